/**
 * Install package job: at the execution time, make sure every relay that serves a target holds the
 * package, then install on every target computer in batches of child workflows.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CourierActivities, JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { agentOrder, databaseWrite } from './activity-options.js';
import { runInBatches } from './batches.js';
import { forEachBounded } from './bounded.js';
import { installBatch } from './install-batch.js';
import { runJob } from './job-run.js';

const { relaysServingTargets, failComputersBehindRelay } = proxyActivities<CourierActivities>(databaseWrite);
const { stageOnRelay } = proxyActivities<CourierActivities>(agentOrder);

/** Relays being sent the package at once. */
export const MAX_CONCURRENT_RELAY_TRANSFERS = 20;

export async function installJob(input: JobWorkflowInput): Promise<JobOutcome> {
  return runJob(input, async () => {
    if (!input.resume) await stageOnRelaysServingTargets(input);
    await runInBatches(input, installBatch);
  });
}

/** Puts the package on every relay the job's computers download from; shared with offer jobs. */
export async function stageOnRelaysServingTargets(input: JobWorkflowInput): Promise<void> {
  const relayIds = await relaysServingTargets(input.jobId);
  await forEachBounded(relayIds, MAX_CONCURRENT_RELAY_TRANSFERS, async (relayId) => {
    const result = await stageOnRelay({
      jobId: input.jobId,
      relayId,
      packageId: input.packageId,
      deadline: input.deadline,
      purpose: 'install',
    });
    if (result.state === 'failed') await failComputersBehindRelay(input.jobId, relayId, result.detail);
  });
}
