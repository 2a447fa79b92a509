/**
 * What install and offer batches share: reading their own page of computers, attempting each once per
 * round with bounded concurrency, keeping the ones that could not be finished on a durable timer until
 * the deadline, and reporting to the job when the first pass is over and when every computer has ended.
 */
import { CancellationScope, getExternalWorkflowHandle, isCancellation, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { AttemptOutcome, CourierActivities } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import { jobWorkflowId } from '../common/names.js';
import { BATCH_DISPATCHED_MEMO, batchReportSignal, type BatchReport, type JobBatchInput, type TargetRange } from '../common/workflows.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';

/** Attempts running at once in one batch; with the job's window of dispatching batches this bounds a job's load. */
export const MAX_ATTEMPTS_PER_BATCH = 50;

/** One attempt at one computer: the order it is to get, sent and followed. */
export type Attempt = (computerId: string) => Promise<AttemptOutcome>;

/** The computers a round could not finish, and whether any of them did not answer (not just waits for a relay). */
export interface RoundLeftovers {
  left: string[];
  unreachable: boolean;
}

/** The batch's page, as batch-wide activities take it. */
export function rangeOf(input: JobBatchInput): TargetRange {
  return { afterTargetId: input.afterTargetId, throughTargetId: input.throughTargetId };
}

/** Database activities of one batch, their retries bounded by the job's deadline. */
export function batchActivities(input: JobBatchInput) {
  return proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
}

/**
 * Attempts every computer in `computerIds` once. A computer whose attempt fails unexpectedly (after its
 * bounded retries) fails with the reason rather than stopping the others.
 */
export async function attemptRound(input: JobBatchInput, computerIds: readonly string[], attempt: Attempt): Promise<RoundLeftovers> {
  const { failTargets } = batchActivities(input);
  const left: string[] = [];
  let unreachable = false;
  await forEachBounded(computerIds, MAX_ATTEMPTS_PER_BATCH, async (computerId) => {
    try {
      const outcome = await attempt(computerId);
      if (outcome === 'ended') return;
      left.push(computerId);
      if (outcome === 'retry') unreachable = true;
    } catch (error) {
      if (isCancellation(error)) throw error;
      await failTargets(input.jobId, [computerId], `the order could not be carried out: ${causeMessage(error)}`);
    }
  });
  left.sort();
  return { left, unreachable };
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
