/**
 * Install package job: at the execution time, make sure every relay that serves a target holds the
 * package, then install on every target computer in batches of child workflows.
 */
import { ParentClosePolicy, continueAsNew, isCancellation, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities, JobOutcome } from '../activities/index.js';
import { jobBatchWorkflowId } from '../common/names.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { agentOrder, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';
import { failureReason } from './failure-reason.js';
import { installBatch } from './install-batch.js';
import { runJob } from './job-run.js';

const { relaysServingTargets, failComputersBehindRelay, targetPage, failTargets } = proxyActivities<CourierActivities>(databaseWrite);
const { stageOnRelay } = proxyActivities<CourierActivities>(agentOrder);

/** Computers per child workflow: ~3 events each keeps a batch's history far below Temporal's limits. */
export const BATCH_SIZE = 500;
/** Batches running at once. */
export const MAX_CONCURRENT_BATCHES = 4;
/** Relays being sent the package at once. */
export const MAX_CONCURRENT_RELAY_TRANSFERS = 20;

export async function installJob(input: JobWorkflowInput): Promise<JobOutcome> {
  return runJob(input, async () => {
    if (!input.resume) await stageOnRelays(input);
    await installInBatches(input);
  });
}

async function stageOnRelays(input: JobWorkflowInput): Promise<void> {
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

async function installInBatches(input: JobWorkflowInput): Promise<void> {
  const running = new Set<Promise<void>>();
  let afterId = input.resume?.afterTargetId;
  let batch = input.resume?.nextBatch ?? 0;
  for (;;) {
    const computerIds = await targetPage(input.jobId, 'computer', afterId, BATCH_SIZE);
    if (computerIds.length === 0) break;
    afterId = computerIds[computerIds.length - 1];
    const run = runBatch(input, batch++, computerIds).finally(() => running.delete(run));
    running.add(run);
    if (running.size >= MAX_CONCURRENT_BATCHES) await Promise.race(running);
    if (workflowInfo().continueAsNewSuggested && afterId !== undefined) {
      await Promise.all(running);
      await continueAsNew<typeof installJob>({ ...input, resume: { afterTargetId: afterId, nextBatch: batch } });
    }
  }
  await Promise.all(running);
}

async function runBatch(input: JobWorkflowInput, batch: number, computerIds: string[]): Promise<void> {
  const child = await startChild(installBatch, {
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
    await failTargets(input.jobId, computerIds, `install batch ${batch + 1} failed: ${failureReason(error)}`);
  }
}
