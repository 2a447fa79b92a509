/**
 * Staging a job's package on its relays: every relay is attempted once per round, a page at a time with
 * bounded concurrency; relays that did not answer are tried again on durable timers until the deadline,
 * then fail with their last error, and so do the job's computers behind them. Computers behind a relay
 * that is ready go ahead at once; nobody waits for relays that are not theirs.
 */
import { ParentClosePolicy, isCancellation, proxyActivities, sleep, startChild, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities, StageOnRelayInput } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import { retryRoundDelayMs } from '../common/retry-rounds.js';
import type { JobWorkflowInput, RelayStagingInput } from '../common/workflows.js';
import { agentOrder, boundedByDeadline, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';
import { continueAsNewUnlessCancelled } from './continue-as-new.js';

/** Relays being sent the package at once. */
export const MAX_CONCURRENT_RELAY_TRANSFERS = 20;
/** Relays read per page: one page's staging adds a few events per relay to the history. */
const RELAY_PAGE_SIZE = 100;

/** Where staging stands, carried across continue-as-new. */
export interface StagingCursor {
  afterRelayId?: string;
  round: number;
}

export interface StagingJob {
  jobId: string;
  packageId: string;
  deadline: string;
  purpose: StageOnRelayInput['purpose'];
}

/**
 * Stages the package on every relay of the job (listed in job_relays) until each holds it or failed.
 * `continueWith` continues the calling workflow as new from a cursor when Temporal suggests it.
 */
export async function stageRelays(job: StagingJob, cursor: StagingCursor, continueWith: (cursor: StagingCursor) => Promise<never>): Promise<void> {
  const { prepareJobRelays, relayStagingPage, settleRelaysAtDeadline, failJobRelay } = proxyActivities<CourierActivities>(
    boundedByDeadline(databaseWrite, job.deadline),
  );
  const { stageOnRelay } = proxyActivities<CourierActivities>(boundedByDeadline(agentOrder, job.deadline));
  let { afterRelayId, round } = cursor;
  if (round === 0 && afterRelayId === undefined) await prepareJobRelays(job.jobId, job.purpose);
  for (;;) {
    for (;;) {
      const page = await relayStagingPage(job.jobId, afterRelayId, RELAY_PAGE_SIZE);
      if (page.length === 0) break;
      afterRelayId = page.at(-1);
      await forEachBounded(page, MAX_CONCURRENT_RELAY_TRANSFERS, async (relayId) => {
        try {
          await stageOnRelay({ ...job, relayId });
        } catch (error) {
          if (isCancellation(error)) throw error;
          // One relay's unexpected failure must not stop the others.
          await failJobRelay(job.jobId, relayId, `the package could not be staged: ${causeMessage(error)}`);
        }
      });
      if (workflowInfo().continueAsNewSuggested) await continueWith({ afterRelayId, round });
    }
    afterRelayId = undefined;
    if ((await relayStagingPage(job.jobId, undefined, 1)).length === 0) return;
    const delay = retryRoundDelayMs(round++, Date.now(), Date.parse(job.deadline));
    if (delay === 0) {
      await settleRelaysAtDeadline(job.jobId, job.deadline);
      return;
    }
    await sleep(delay);
  }
}

/**
 * Starts staging an install or offer job's relays in a child workflow, beside the job's batches. It
 * outlives the job's runs across continue-as-new; the job cancels it when it ends or is cancelled.
 */
export async function startRelayStaging(job: JobWorkflowInput, workflowId: string): Promise<void> {
  await startChild(jobRelayStaging, {
    workflowId,
    args: [{ jobId: job.jobId, packageId: job.packageId, deadline: job.deadline }],
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
    staticSummary: `relays of job ${job.jobId}`,
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
}

/** An install or offer job's relays, staged in a child workflow beside the job's batches. */
export async function jobRelayStaging(input: RelayStagingInput): Promise<void> {
  const job: StagingJob = { jobId: input.jobId, packageId: input.packageId, deadline: input.deadline, purpose: 'install' };
  await stageRelays(job, { afterRelayId: input.afterRelayId, round: input.round ?? 0 }, (cursor) =>
    continueAsNewUnlessCancelled<typeof jobRelayStaging>({ ...input, ...cursor }),
  );
}
