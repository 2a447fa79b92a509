/**
 * Handing a job to Temporal: starting its workflow with the job's search attributes and one-line summary,
 * and recording that Temporal accepted it. Used when a job is created and when the api hands over jobs it
 * wrote but, having died in between, never started.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { searchAttributes } from '../../common/names.js';
import type { JobType } from '../../common/states.js';
import { jobWorkflowTypes, type JobWorkflowInput } from '../../common/workflows.js';
import type { PackageRow } from '../../db/repositories/packages.js';
import { jobs } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { targetKindOf } from './job-targets.js';
import { callTemporal } from './temporal-calls.js';

/** What a job's workflow is started from. */
export interface JobLaunch {
  jobId: string;
  workflowId: string;
  type: JobType;
  pkg: PackageRow;
  scheduledAt: Date;
  deadline: Date;
  targetCount: number;
  rerunOf?: string | null;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Starts the job's workflow. A workflow that already exists counts as started: the launch may be repeated
 * after a crash, and the workflow ID makes sure the job runs once.
 */
export async function startJobWorkflow({ temporal, config }: Pick<AppDependencies, 'temporal' | 'config'>, job: JobLaunch): Promise<void> {
  const input: JobWorkflowInput = {
    jobId: job.jobId,
    packageId: job.pkg.id,
    scheduledAt: job.scheduledAt.toISOString(),
    deadline: job.deadline.toISOString(),
  };
  const rerun = job.rerunOf ? `rerun of job ${job.rerunOf}: ` : '';
  const what = `${job.type} ${job.pkg.name} ${job.pkg.version} on ${plural(job.targetCount, targetKindOf(job.type))}`;
  try {
    await callTemporal(temporal, () =>
      temporal.workflow.start(jobWorkflowTypes[job.type], {
        taskQueue: config.taskQueue,
        workflowId: job.workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: searchAttributes.jobId, value: job.jobId },
          { key: searchAttributes.jobType, value: job.type },
          { key: searchAttributes.packageId, value: job.pkg.id },
        ],
        staticSummary: `${rerun}${what} at ${input.scheduledAt}`,
      }),
    );
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** Records that Temporal has the job, so it is never handed over again. */
export async function markLaunched(db: AppDependencies['db'], jobId: string): Promise<void> {
  await db.update(jobs).set({ launchedAt: sql`now()` }).where(eq(jobs.id, jobId));
}
