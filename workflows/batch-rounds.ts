/**
 * What install and offer batches share besides their rounds (attempt-round.ts): their page, their
 * activities, and reporting to the job when the first pass is over and when every computer has ended.
 */
import { CancellationScope, getExternalWorkflowHandle, isCancellation, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { jobWorkflowId } from '../common/names.js';
import { BATCH_DISPATCHED_MEMO, batchReportSignal, type BatchReport, type JobBatchInput, type TargetRange } from '../common/workflows.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';

/** The batch's page, as batch-wide activities take it. */
export function rangeOf(input: JobBatchInput): TargetRange {
  if ('joinedBatch' in input) return { joinedBatch: input.joinedBatch };
  return { afterTargetId: input.afterTargetId, throughTargetId: input.throughTargetId };
}

/** Database activities of one batch, their retries bounded by the job's deadline. */
export function batchActivities(input: JobBatchInput) {
  return proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
}

/**
 * Marks the batch's first pass as over on the batch itself, where the job can read it back should its
 * signal go astray. Called again by each run that continued as new, so every run carries the mark.
 */
export function rememberDispatched(input: JobBatchInput): void {
  if (input.dispatched) upsertMemo({ [BATCH_DISPATCHED_MEMO]: true });
}

/** Tells the job how far this batch has come (see BatchReport). A job that has already ended needs no report. */
export async function reportToJob(input: JobBatchInput, phase: BatchReport['phase']): Promise<void> {
  if (phase === 'dispatched') rememberDispatched({ ...input, dispatched: true });
  try {
    await getExternalWorkflowHandle(jobWorkflowId(input.jobId)).signal(batchReportSignal, { batch: input.batch, phase });
  } catch (error) {
    if (isCancellation(error)) throw error;
  }
}

/**
 * The batch was cancelled: every computer of its page that the job reached is sent a cancel order, then
 * the job hears that the batch is done. Not cancellable itself, since it runs because of a cancellation.
 */
export async function cancelBatch(input: JobBatchInput): Promise<void> {
  const { cancelOnComputers } = batchActivities(input);
  await CancellationScope.nonCancellable(async () => {
    await cancelOnComputers({ jobId: input.jobId, packageId: input.packageId, deadline: input.deadline, ...rangeOf(input) });
    await reportToJob(input, 'done');
  });
}
