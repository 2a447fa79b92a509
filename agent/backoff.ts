/**
 * How an agent waits before trying the managing server (or its relay) again: exponentially longer after
 * each failure in a row, up to a cap, and each wait spread by a fifth either way, so the agents of a fleet
 * that lost the server together do not all come back in the same instant.
 */

/** Client errors that mean "not now" (a busy or slow server) rather than "never": retried like a 5xx. */
export const RETRYABLE_CLIENT_ERRORS: ReadonlySet<number> = new Set([408, 429]);

/** A retry schedule: the first wait, doubled after each further failure, never above the cap. */
export interface Backoff {
  firstMs: number;
  maxMs: number;
}

/** `delayMs` moved at random by up to a fifth either way. */
export function jittered(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

/** The wait after `failures` failures in a row (1 for the first), jittered. */
export function backoffDelayMs(backoff: Backoff, failures: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return jittered(Math.min(backoff.firstMs * 2 ** exponent, backoff.maxMs), random);
}
