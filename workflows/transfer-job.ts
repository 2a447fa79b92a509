/**
 * Transfer package to relay job: at the execution time, stage the package on every target relay. A relay
 * that holds an intact copy with the package's current expiry is sent nothing (`already_stored`); any other
 * gets the package again, and its copy's timer moves to the package's current expiry.
 */
import { continueAsNew, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities, JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { agentOrder, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';
import { MAX_CONCURRENT_RELAY_TRANSFERS } from './install-job.js';
import { runJob } from './job-run.js';

const { targetPage, failTargets } = proxyActivities<CourierActivities>(databaseWrite);
const { stageOnRelay } = proxyActivities<CourierActivities>(agentOrder);

const RELAY_PAGE_SIZE = 200;

export async function transferJob(input: JobWorkflowInput): Promise<JobOutcome> {
  return runJob(input, async () => {
    let afterId = input.resume?.afterTargetId;
    for (;;) {
      const relayIds = await targetPage(input.jobId, 'relay', afterId, RELAY_PAGE_SIZE);
      if (relayIds.length === 0) break;
      afterId = relayIds[relayIds.length - 1];
      await forEachBounded(relayIds, MAX_CONCURRENT_RELAY_TRANSFERS, (relayId) => transferTo(input, relayId));
      if (workflowInfo().continueAsNewSuggested && afterId !== undefined) {
        await continueAsNew<typeof transferJob>({ ...input, resume: { afterTargetId: afterId, nextBatch: 0 } });
      }
    }
  });
}

async function transferTo(input: JobWorkflowInput, relayId: string): Promise<void> {
  try {
    await stageOnRelay({ jobId: input.jobId, relayId, packageId: input.packageId, deadline: input.deadline, purpose: 'transfer' });
  } catch (error) {
    if (isCancellation(error)) throw error;
    // One relay's unexpected failure must not stop the others.
    await failTargets(input.jobId, [relayId], `transfer could not be carried out: ${causeMessage(error)}`);
  }
}
