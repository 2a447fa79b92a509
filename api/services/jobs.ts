/**
 * Creating and cancelling jobs. A job is written to PostgreSQL (row and targets, one transaction) and then
 * handed to its Temporal workflow; if Temporal refuses, the job is deleted again so no job exists that
 * nothing will ever run. Progress is recorded by the workflow, never by the api.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { jobWorkflowId, searchAttributes } from '../../common/names.js';
import type { JobStatus, JobType } from '../../common/states.js';
import { jobWorkflowTypes, type JobWorkflowInput } from '../../common/workflows.js';
import { jobs } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { Conflict, Unavailable, Unsupported } from '../errors.js';
import { resolveJobSchedule, type JobQuery, type JobRequest } from '../validation.js';
import { insertJobTargets, targetKindOf } from './job-targets.js';
import { findJob, getJob, type JobView } from './job-views.js';
import { findPackage } from './packages.js';

/** Job types whose workflows exist in this build; the others are refused with 422 until they land. */
export const supportedJobTypes: ReadonlySet<JobType> = new Set<JobType>(['install']);

const finishedStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>([
  'completed',
  'completed_with_errors',
  'cancelled',
  'failed',
]);

/** How long the api waits for Temporal before answering 503. */
const TEMPORAL_CALL_MS = 10_000;

/** The view returned by create and cancel: the first page of targets, unfiltered. */
const firstPage: JobQuery = { targetsLimit: 1000, targetsOffset: 0 };

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function temporalUnavailable(action: string, error: unknown): Unavailable {
  const reason = error instanceof Error ? error.message : String(error);
  return new Unavailable('temporal_unavailable', `could not ${action}: Temporal did not answer (${reason})`);
}

/** Creates a job, its targets and its workflow; answers with the job as it now stands. */
export async function createJob(
  { db, temporal, config }: Pick<AppDependencies, 'db' | 'temporal' | 'config'>,
  request: JobRequest,
): Promise<JobView> {
  if (!supportedJobTypes.has(request.type)) {
    throw new Unsupported(
      'unsupported_job_type',
      `${request.type} jobs are not available yet; this build runs: ${[...supportedJobTypes].join(', ')}`,
    );
  }
  const { scheduledAt, deadline } = resolveJobSchedule(request, new Date(), config.defaultDeadlineMs);
  const pkg = await findPackage(db, request.packageId);
  const jobId = randomUUID();
  const workflowId = jobWorkflowId(jobId);
  const targetCount = await db.transaction(async (tx) => {
    await tx.insert(jobs).values({
      id: jobId,
      type: request.type,
      packageId: pkg.id,
      status: 'scheduled',
      targetSpec: request.targets,
      scheduledAt,
      deadline,
      workflowId,
    });
    return insertJobTargets(tx, jobId, request.type, request.targets);
  });

  const summary = `${request.type} ${pkg.name} ${pkg.version} on ${plural(targetCount, targetKindOf(request.type))}`;
  const input: JobWorkflowInput = {
    jobId,
    packageId: pkg.id,
    scheduledAt: scheduledAt.toISOString(),
    deadline: deadline.toISOString(),
  };
  try {
    await temporal.withDeadline(Date.now() + TEMPORAL_CALL_MS, () =>
      temporal.workflow.start(jobWorkflowTypes[request.type], {
        taskQueue: config.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: searchAttributes.jobId, value: jobId },
          { key: searchAttributes.jobType, value: request.type },
          { key: searchAttributes.packageId, value: pkg.id },
        ],
        staticSummary: `${summary} at ${input.scheduledAt}`,
      }),
    );
  } catch (error) {
    // job_targets rows go with the job (ON DELETE CASCADE).
    await db.delete(jobs).where(eq(jobs.id, jobId));
    throw temporalUnavailable("start the job's workflow", error);
  }
  return getJob(db, jobId, firstPage);
}

/**
 * Asks the job's workflow to cancel. The workflow moves unfinished targets to `cancelled` and records the
 * job's final status itself, so the view returned here may still say `scheduled` or `running`.
 */
export async function cancelJob({ db, temporal }: Pick<AppDependencies, 'db' | 'temporal'>, id: string): Promise<JobView> {
  const job = await findJob(db, id);
  if (finishedStatuses.has(job.status)) {
    throw new Conflict('job_finished', `job ${job.id} has already ended as ${job.status}`);
  }
  try {
    await temporal.withDeadline(Date.now() + TEMPORAL_CALL_MS, () => temporal.workflow.getHandle(job.workflowId).cancel());
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new Conflict('job_finished', `job ${job.id}'s workflow has already ended; its status is being recorded`);
    }
    throw temporalUnavailable('cancel the job', error);
  }
  return getJob(db, job.id, firstPage);
}
