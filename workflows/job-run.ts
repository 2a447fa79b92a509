/**
 * What every job workflow does around its own work: wait for the execution time on a durable timer, mark
 * the job running, and afterwards settle its status — `cancelled` when the admin cancelled it, `failed`
 * when the work itself could not go on, otherwise from its targets' states. Continuing as new is none of
 * these: the next run carries on where this one stopped. Each step is shown as the workflow's current
 * details in the Temporal UI, down to the targets' counts at the end.
 */
import { CancellationScope, ContinueAsNew, isCancellation, proxyActivities, setCurrentDetails, sleep } from '@temporalio/workflow';
import type { CourierActivities, JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';

export async function runJob(input: JobWorkflowInput, work: () => Promise<void>): Promise<JobOutcome> {
  const { startJob, finishJob, cancelJob, failJob } = proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
  try {
    // A run that continued as new has already waited and started.
    if (!input.resume) {
      setCurrentDetails(`**Waiting** for the execution time, ${input.scheduledAt}.`);
      await sleep(Math.max(0, Date.parse(input.scheduledAt) - Date.now()));
      // The admin cancelled the job before Temporal had it: nothing is to be done.
      if (!(await startJob(input.jobId))) return ended({ status: 'cancelled', counts: {} });
    }
    setCurrentDetails(`**Running**; the targets' progress: \`GET /api/v1/jobs/${input.jobId}\` or \`courier jobs watch ${input.jobId}\`.`);
    await work();
    return ended(await finishJob(input.jobId));
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      setCurrentDetails('**Cancelled** by an admin.');
      await CancellationScope.nonCancellable(() => cancelJob(input.jobId));
    } else {
      const reason = causeMessage(error);
      setCurrentDetails(`**Failed**: ${reason}`);
      await CancellationScope.nonCancellable(() => failJob(input.jobId, reason));
    }
    throw error;
  }
}

/** Shows how the job ended, with its targets' counts by state, and returns the outcome. */
function ended(outcome: JobOutcome): JobOutcome {
  const counts = Object.entries(outcome.counts).map(([state, count]) => `${state} ${count}`);
  setCurrentDetails(`**Ended ${outcome.status}**${counts.length > 0 ? `: ${counts.join(', ')}` : ''}.`);
  return outcome;
}
