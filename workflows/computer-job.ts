/**
 * What install and offer jobs share: the package is staged on the relays of the job's computers by a
 * child workflow, while the computers themselves are handed out in batches at once. A computer behind a
 * relay waits only for its own relay; computers served directly never wait.
 */
import { ContinueAsNew } from '@temporalio/workflow';
import { jobRelaysWorkflowId } from '../common/names.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { BatchTracker, cancelWorkflow, runInBatches, type BatchWorkflow, type FirstPassBound } from './batches.js';
import { startRelayStaging } from './relay-staging.js';

export async function distributeToComputers(
  input: JobWorkflowInput,
  tracker: BatchTracker,
  batchWorkflow: BatchWorkflow,
  bound: FirstPassBound,
): Promise<void> {
  if (!input.resume) await startRelayStaging(input, jobRelaysWorkflowId(input.jobId));
  try {
    await runInBatches(input, tracker, batchWorkflow, bound);
  } catch (error) {
    // The next run carries on with the same staging; a cancelled or failed job needs it no more.
    if (!(error instanceof ContinueAsNew)) await cancelWorkflow(jobRelaysWorkflowId(input.jobId));
    throw error;
  }
  // Every computer has ended, so no one needs the relays any more; usually staging has ended already.
  await cancelWorkflow(jobRelaysWorkflowId(input.jobId));
}

export { BatchTracker };
