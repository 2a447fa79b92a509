/** Named activity option presets: every activity call states its timeouts and retries through one of these. */
import type { ActivityOptions } from '@temporalio/workflow';

/** Short database writes: retried while PostgreSQL is away, since a job must not be lost to it. */
export const databaseWrite = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;

/**
 * One attempt at an order on an agent, followed to its end: a download and an install may take hours, so
 * liveness comes from heartbeats (a crashed worker is noticed within the heartbeat timeout) and the
 * start-to-close timeout is a backstop above the longest allowed install. An unreachable agent is not an
 * activity failure: the activity reports it and the workflow tries again on a durable timer. The policy's
 * backoff only applies to unexpected errors.
 */
export const agentOrder = {
  startToCloseTimeout: '26 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;

/**
 * One look at a batch of computers (activities/batch-driver.ts): it sends orders many at once and may wait
 * a while for download slots, heartbeating throughout, so a crashed worker is noticed within the heartbeat
 * timeout and the look is simply taken again.
 */
export const batchDriving = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;

/** How long past a job's deadline its work may still be retried: an install that began in time may finish. */
export const DEADLINE_GRACE_MS = 2 * 60 * 60_000;
/** A job whose deadline is (nearly) past still gets this long to record what happened. */
const MIN_RETRY_WINDOW_MS = 30_000;

/**
 * `options` with every retry bounded by the job's deadline plus a grace, so an activity that keeps failing
 * for an unexpected reason (a bug, a row that breaks a constraint) ends and its target fails with the
 * reason, instead of hanging the job.
 */
export function boundedByDeadline(options: ActivityOptions, deadline: string): ActivityOptions {
  const window = Math.max(Date.parse(deadline) + DEADLINE_GRACE_MS - Date.now(), MIN_RETRY_WINDOW_MS);
  return { ...options, scheduleToCloseTimeout: window };
}
