/**
 * Install package job: at the execution time, stage the package on the relays that serve the job's
 * computers and install on every computer in batches of child workflows, each computer as soon as its
 * relay (if any) holds the package.
 */
import type { JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { BatchTracker, distributeToComputers } from './computer-job.js';
import { installBatch } from './computer-batch.js';
import { runJob } from './job-run.js';

export async function installJob(input: JobWorkflowInput): Promise<JobOutcome> {
  const tracker = new BatchTracker(input);
  return runJob(input, () => distributeToComputers(input, tracker, installBatch, 'download_slots'));
}
