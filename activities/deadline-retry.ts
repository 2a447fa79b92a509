/**
 * Retrying an unreachable agent until the job's deadline. The activity, not the retry policy, decides the
 * next delay, so the last attempt falls exactly on the deadline instead of up to a whole backoff later.
 */
import { ApplicationFailure } from '@temporalio/common';

const INITIAL_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

/** Exponential backoff for the given attempt (1-based), capped, and never past the deadline. */
export function nextRetryDelayMs(attempt: number, now: Date, deadline: Date): number {
  const backoff = Math.min(INITIAL_DELAY_MS * 2 ** Math.max(0, attempt - 1), MAX_DELAY_MS);
  return Math.max(0, Math.min(backoff, deadline.getTime() - now.getTime()));
}

/** Fails this attempt so Temporal runs the activity again after the computed delay. */
export function retryBeforeDeadline(error: Error, attempt: number, now: Date, deadline: Date): never {
  throw ApplicationFailure.create({
    message: error.message,
    type: error.name,
    nextRetryDelay: nextRetryDelayMs(attempt, now, deadline),
  });
}
