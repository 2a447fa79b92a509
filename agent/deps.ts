/**
 * The outside world an agent talks to, injected so that tests (and the scale benchmark, which hosts
 * thousands of agents in one process) can pass their own.
 */

/** The time source: order freshness, ticket and copy expiry, and status timestamps all read it. */
export interface Clock {
  now(): Date;
}

/** The real clock, for the CLI. */
export const systemClock: Clock = { now: () => new Date() };

/** The subset of WHATWG fetch the agent uses, so a test can hand in a wrapper that counts or fails calls. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** What a diagnostic line is about, as fields an operator filters on (structured logs in the CLI). */
export interface LogFields {
  jobId?: string;
  packageId?: string;
}

/** Diagnostic lines for the operator (JSON on stderr in the CLI). Never given tokens or secrets. */
export type Log = (message: string, fields?: LogFields) => void;
