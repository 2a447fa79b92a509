/** Named activity option presets: every activity call states its timeouts and retries through one of these. */
import type { ActivityOptions } from '@temporalio/workflow';

/** Short database writes: retried for as long as PostgreSQL is away, since a job must not be lost to it. */
export const databaseWrite = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;

/**
 * Orders followed on an agent: a download and an install may take hours, so liveness comes from heartbeats
 * (a crashed worker is noticed within the heartbeat timeout) and the start-to-close timeout is a backstop
 * above the longest allowed install. Unreachable agents are retried by the activity's own deadline-aware
 * delays; the policy's backoff only applies to unexpected errors.
 */
export const agentOrder = {
  startToCloseTimeout: '26 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;
