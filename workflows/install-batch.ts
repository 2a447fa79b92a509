/**
 * One page of an install job's computers, installed with bounded concurrency. A child of the job's
 * workflow, so the job's own history stays small however many computers it has.
 */
import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import type { JobBatchInput } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { agentOrder, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';

const { installOnComputer } = proxyActivities<CourierActivities>(agentOrder);
const { failTargets } = proxyActivities<CourierActivities>(databaseWrite);

/** Installs running at once in one batch; with the job's batch window this bounds a job's load. */
export const MAX_INSTALLS_PER_BATCH = 50;

export async function installBatch(input: JobBatchInput): Promise<void> {
  await forEachBounded(input.computerIds, MAX_INSTALLS_PER_BATCH, async (computerId) => {
    try {
      await installOnComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // One computer's unexpected failure must not fail the others: record it and go on.
      const reason = causeMessage(error);
      await failTargets(input.jobId, [computerId], `install could not be carried out: ${reason}`);
    }
  });
}
