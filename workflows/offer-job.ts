/**
 * Send package, allow client users to choose: at the execution time, stage the package on the relays of
 * the job's computers and offer it to every computer in batches whose workflows collect the users'
 * choices until the deadline.
 */
import type { JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { BatchTracker, distributeToComputers } from './computer-job.js';
import { runJob } from './job-run.js';
import { offerBatch } from './computer-batch.js';

export async function offerJob(input: JobWorkflowInput): Promise<JobOutcome> {
  const tracker = new BatchTracker(input);
  return runJob(input, () => distributeToComputers(input, tracker, offerBatch, 'minimum'));
}
