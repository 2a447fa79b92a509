/** All of Courier's activities, built from injected dependencies (see worker/main.ts). */
import { createBatchStatusActivities } from './batch-status.js';
import { createCancelOrderActivities } from './cancel-orders.js';
import { createBatchDriverActivities } from './batch-driver.js';
import { createBatchEndingActivities } from './batch-endings.js';
import type { ActivityDependencies } from './dependencies.js';
import { createDownloadSlotActivities } from './download-slots.js';
import { createJobLifecycleActivities } from './job-lifecycle.js';
import { createJoinerActivities } from './joiners.js';
import { createRelayCopyActivities } from './relay-copies.js';
import { createRelayStagingActivities } from './relay-staging.js';
import { createWindowHoldActivities } from './window-holds.js';

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createJobLifecycleActivities(deps),
    ...createRelayStagingActivities(deps),
    ...createRelayCopyActivities(deps),
    ...createBatchDriverActivities(deps),
    ...createDownloadSlotActivities(deps),
    ...createBatchEndingActivities(deps),
    ...createCancelOrderActivities(deps),
    ...createBatchStatusActivities(deps),
    ...createWindowHoldActivities(deps),
    ...createJoinerActivities(deps),
  };
}

/** The activity interface workflows proxy (imported as a type only: workflows never load this code). */
export type CourierActivities = ReturnType<typeof createActivities>;
export type { ActivityDependencies } from './dependencies.js';
export type { JobOutcome } from './job-lifecycle.js';
export type { BatchProgress, DriveBatchInput } from './batch-driver.js';
export type { AttemptOutcome } from './relay-staging.js';
export type { StageOnRelayInput } from './relay-staging.js';
export type { CopyExpiry } from './relay-copies.js';
export type { CancelOnComputersInput } from './cancel-orders.js';
