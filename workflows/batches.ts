/**
 * Hands a job's computers out in pages to child workflows, a few at a time, so that no single history grows
 * with the fleet: the job's own history grows by a handful of events per page, and continues as new when
 * Temporal suggests it.
 */
import { ParentClosePolicy, continueAsNew, isCancellation, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { jobBatchWorkflowId } from '../common/names.js';
import type { JobBatchInput, JobWorkflowInput } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { databaseWrite } from './activity-options.js';

const { targetPage, failTargets } = proxyActivities<CourierActivities>(databaseWrite);

/** Computers per child workflow: keeps a batch's history (a few events per computer) far below the limits. */
const BATCH_SIZE = 500;
/** Batches running at once. */
const MAX_CONCURRENT_BATCHES = 4;

export type BatchWorkflow = (input: JobBatchInput) => Promise<void>;

/** Runs `batchWorkflow` over every unfinished computer target; continues the calling job workflow as new when told. */
export async function runInBatches(input: JobWorkflowInput, batchWorkflow: BatchWorkflow): Promise<void> {
  const running = new Set<Promise<void>>();
  let afterId = input.resume?.afterTargetId;
  let batch = input.resume?.nextBatch ?? 0;
  for (;;) {
    const computerIds = await targetPage(input.jobId, 'computer', afterId, BATCH_SIZE);
    if (computerIds.length === 0) break;
    afterId = computerIds[computerIds.length - 1];
    const run = runBatch(input, batchWorkflow, batch++, computerIds).finally(() => running.delete(run));
    running.add(run);
    if (running.size >= MAX_CONCURRENT_BATCHES) await Promise.race(running);
    if (workflowInfo().continueAsNewSuggested && afterId !== undefined) {
      await Promise.all(running);
      // Continues the calling job workflow (install or offer), which skips straight back here.
      await continueAsNew<(input: JobWorkflowInput) => Promise<unknown>>({ ...input, resume: { afterTargetId: afterId, nextBatch: batch } });
    }
  }
  await Promise.all(running);
}

async function runBatch(input: JobWorkflowInput, batchWorkflow: BatchWorkflow, batch: number, computerIds: string[]): Promise<void> {
  const child = await startChild(batchWorkflow, {
    workflowId: jobBatchWorkflowId(input.jobId, batch),
    args: [{ jobId: input.jobId, packageId: input.packageId, deadline: input.deadline, computerIds }],
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
    staticSummary: `batch ${batch + 1} of job ${input.jobId}: ${computerIds.length} computers`,
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
  try {
    await child.result();
  } catch (error) {
    if (isCancellation(error)) throw error;
    await failTargets(input.jobId, computerIds, `batch ${batch + 1} failed: ${causeMessage(error)}`);
  }
}
