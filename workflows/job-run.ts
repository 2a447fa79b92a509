/**
 * What every job workflow does around its own work: wait for the execution time on a durable timer, mark
 * the job running, and afterwards settle its status — `cancelled` when the admin cancelled it, `failed`
 * when the work itself could not go on, otherwise from its targets' states. Continuing as new is none of
 * these: the next run carries on where this one stopped.
 */
import { CancellationScope, ContinueAsNew, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { CourierActivities, JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';

export async function runJob(input: JobWorkflowInput, work: () => Promise<void>): Promise<JobOutcome> {
  const { startJob, finishJob, cancelJob, failJob } = proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
  try {
    // A run that continued as new has already waited and started.
    if (!input.resume) {
      await sleep(Math.max(0, Date.parse(input.scheduledAt) - Date.now()));
      // The admin cancelled the job before Temporal had it: nothing is to be done.
      if (!(await startJob(input.jobId))) return { status: 'cancelled', counts: {} };
    }
    await work();
    return await finishJob(input.jobId);
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      await CancellationScope.nonCancellable(() => cancelJob(input.jobId));
    } else {
      const reason = causeMessage(error);
      await CancellationScope.nonCancellable(() => failJob(input.jobId, reason));
    }
    throw error;
  }
}
