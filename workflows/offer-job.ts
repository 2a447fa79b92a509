/**
 * Send package, allow client users to choose: at the execution time, make sure the relays hold the package,
 * then offer it to every target computer in batches whose workflows collect the users' choices.
 */
import type { JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { runInBatches } from './batches.js';
import { stageOnRelaysServingTargets } from './install-job.js';
import { runJob } from './job-run.js';
import { offerBatch } from './offer-batch.js';

export async function offerJob(input: JobWorkflowInput): Promise<JobOutcome> {
  return runJob(input, async () => {
    if (!input.resume) await stageOnRelaysServingTargets(input);
    await runInBatches(input, offerBatch);
  });
}
