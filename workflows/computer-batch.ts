/**
 * One page of an install or offer job's computers. The batch looks at its computers (one driveBatch
 * activity for the whole page) whenever there may be something to do: a computer due its order, a silent
 * one to ask after, or a nudge from the api once its working computers have reported their outcomes or a
 * user has chosen. In between it sleeps on a durable timer, holding no worker slot, while the computers
 * work and report to the api. A child of the job's workflow, so the job's own history stays small however
 * many computers it has; its own history grows with its looks, not with its computers.
 */
import { ContinueAsNew, condition, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import { batchNudgeSignal, type BatchPhase, type JobBatchInput } from '../common/workflows.js';
import { batchDriving, boundedByDeadline, DEADLINE_GRACE_MS } from './activity-options.js';
import { continueAsNewUnlessCancelled } from './continue-as-new.js';
import { batchActivities, cancelBatch, rangeOf, rememberDispatched, reportToJob } from './batch-rounds.js';
import { untilWindowOpens } from './window.js';

export function installBatch(input: JobBatchInput): Promise<void> {
  return computerBatch(input, 'install');
}

export function offerBatch(input: JobBatchInput): Promise<void> {
  return computerBatch(input, 'offer');
}

/**
 * Looks at the batch's computers until every one has ended: before the deadline sending what is due; at
 * the deadline ending computers that never got their order (and offers nobody chose); after it waiting for
 * the orders computers hold, up to the deadline's grace. Then reports `done` to the job. Cancelled, it
 * tells the computers it reached to stop first.
 */
async function computerBatch(input: JobBatchInput, jobType: 'install' | 'offer'): Promise<void> {
  let nudged = false;
  setHandler(batchNudgeSignal, () => {
    nudged = true;
  });
  const { driveBatch } = proxyActivities<CourierActivities>(boundedByDeadline(batchDriving, input.deadline));
  const { settleAtDeadline, closeOffers, giveUpOnSilent, failBatch } = batchActivities(input);
  const deadlineMs = Date.parse(input.deadline);
  const graceEndsMs = deadlineMs + DEADLINE_GRACE_MS;
  const range = rangeOf(input);
  let phase: BatchPhase = input.phase ?? 'running';
  rememberDispatched(input);
  try {
    const reportDispatched = async (): Promise<void> => {
      if (input.dispatched) return;
      await reportToJob(input, 'dispatched');
      input = { ...input, dispatched: true };
    };
    for (;;) {
      const installNotBefore = phase === 'running' ? await untilWindowOpens(input, range, reportDispatched) : undefined;
      if (phase === 'running' && Date.now() >= deadlineMs) phase = 'last_call';
      nudged = false;
      const progress = await driveBatch({
        ...range,
        jobId: input.jobId,
        jobType,
        packageId: input.packageId,
        deadline: input.deadline,
        batchWorkflowId: workflowInfo().workflowId,
        phase,
        ...(installNotBefore && { installNotBefore }),
      });
      if (progress.unsent === 0 || phase !== 'running') await reportDispatched();
      if (phase === 'last_call') {
        await settleAtDeadline(input.jobId, range, input.deadline);
        // Choices recorded in time are still carried out: the next look sends their installs.
        if (jobType === 'offer') await closeOffers(input.jobId, range);
        phase = 'draining';
        continue;
      }
      if (progress.open === 0) break;
      if (phase === 'draining' && Date.now() >= graceEndsMs) {
        await giveUpOnSilent(input.jobId, range, input.deadline);
        break;
      }
      const until = (phase === 'running' ? deadlineMs : graceEndsMs) - Date.now();
      await condition(() => nudged, Math.max(0, Math.min(progress.checkInMs, until)));
      if (workflowInfo().continueAsNewSuggested) await continueAsNewUnlessCancelled<typeof installBatch>({ ...input, phase });
    }
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      await cancelBatch(input);
      throw error;
    }
    // Nothing else is expected here: the batch's computers fail with the reason, and the job goes on.
    await failBatch(input.jobId, range, `batch ${input.batch + 1} failed: ${causeMessage(error)}`);
  }
  await reportToJob(input, 'done');
}
