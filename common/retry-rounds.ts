/**
 * When to try again the targets a round could not finish: computers or relays that did not answer, and
 * computers whose relay is still receiving the package. They wait on durable timers, holding no worker
 * slot, while everyone else goes on.
 */

/** First pause after a round that left unreachable targets; it doubles each round. */
const FIRST_RETRY_MS = 2_000;
/** Longest pause between two attempts at an unreachable target. */
const MAX_RETRY_MS = 5 * 60_000;
/** Longest pause for computers that only wait for their relay: they should start soon after it is ready. */
const MAX_RELAY_WAIT_MS = 10_000;

/**
 * The pause before retry round `round` (0-based): exponential, capped, and never past the deadline, so the
 * last attempt falls on the deadline itself. 0 means the deadline has come and the targets left end.
 */
export function retryRoundDelayMs(round: number, nowMs: number, deadlineMs: number, onlyWaitingForRelay = false): number {
  const cap = onlyWaitingForRelay ? MAX_RELAY_WAIT_MS : MAX_RETRY_MS;
  const backoff = Math.min(FIRST_RETRY_MS * 2 ** Math.min(round, 20), cap);
  return Math.max(0, Math.min(backoff, deadlineMs - nowMs));
}
