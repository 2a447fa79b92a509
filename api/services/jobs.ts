/**
 * Creating, rerunning and cancelling jobs. A job is written to PostgreSQL (row and targets, one
 * transaction) and then handed to its Temporal workflow; if Temporal refuses, the job is deleted again so
 * no job exists that nothing will ever run. Progress is recorded by the workflow, never by the api.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, notInArray } from 'drizzle-orm';
import { jobWorkflowId } from '../../common/names.js';
import { successfulTargetStates, type JobStatus, type JobType } from '../../common/states.js';
import type { PackageRow } from '../../db/repositories/packages.js';
import { jobs, jobTargets, type TargetSpec } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { Conflict } from '../errors.js';
import { resolveJobSchedule, type DefaultDeadline, type JobQuery, type JobRequest, type JobSchedule } from '../validation.js';
import { insertJobTargets, targetKindOf } from './job-targets.js';
import { markLaunched, startJobWorkflow } from './job-workflows.js';
import { findJob, getJob, type JobView } from './job-views.js';
import { findPackage } from './packages.js';
import { callTemporal, temporalUnavailable } from './temporal-calls.js';

type Deps = Pick<AppDependencies, 'db' | 'temporal' | 'config'>;

/** Statuses a job never leaves: its workflow has ended. */
export const finishedJobStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>([
  'completed',
  'completed_with_errors',
  'cancelled',
  'failed',
]);

/** The view returned by create, rerun and cancel: the first page of targets, unfiltered. */
const firstPage: JobQuery = { targetsLimit: 1000, targetsOffset: 0 };

/** Everything a new job is made of. */
interface NewJob {
  type: JobType;
  pkg: PackageRow;
  schedule: JobSchedule;
  targets: TargetSpec;
  rerunOf?: string;
}

/** Writes the job and its targets in one transaction, then starts its workflow or undoes the write. */
async function launchJob({ db, temporal, config }: Deps, job: NewJob): Promise<JobView> {
  const { type, pkg, schedule } = job;
  const jobId = randomUUID();
  const workflowId = jobWorkflowId(jobId);
  const targetCount = await db.transaction(async (tx) => {
    await tx.insert(jobs).values({
      id: jobId,
      type,
      packageId: pkg.id,
      status: 'scheduled',
      targetSpec: job.targets,
      scheduledAt: schedule.scheduledAt,
      deadline: schedule.deadline,
      workflowId,
      rerunOf: job.rerunOf ?? null,
    });
    return insertJobTargets(tx, jobId, type, job.targets);
  });

  try {
    await startJobWorkflow({ temporal, config }, { jobId, workflowId, type, pkg, ...schedule, targetCount, rerunOf: job.rerunOf });
  } catch (error) {
    // job_targets rows go with the job (ON DELETE CASCADE).
    await db.delete(jobs).where(eq(jobs.id, jobId));
    throw temporalUnavailable("start the job's workflow", error);
  }
  // Should the api die before this line, the job is handed over again at its next start (job-recovery.ts).
  await markLaunched(db, jobId);
  return getJob(db, jobId, firstPage);
}

/** An offer closes at the package's relay expiration date unless the admin names a deadline. */
function defaultDeadline(type: JobType, pkg: PackageRow, config: Deps['config']): DefaultDeadline {
  if (type === 'offer') return { at: pkg.relayExpiresAt, source: "the package's relay expiration date" };
  return { afterMs: config.defaultDeadlineMs };
}

/** Creates a job, its targets and its workflow; answers with the job as it now stands. */
export async function createJob(deps: Deps, request: JobRequest): Promise<JobView> {
  const pkg = await findPackage(deps.db, request.packageId);
  const schedule = resolveJobSchedule(request, new Date(), defaultDeadline(request.type, pkg, deps.config));
  return launchJob(deps, { type: request.type, pkg, schedule, targets: request.targets });
}

/**
 * A new job of the same type and package for the finished job's targets that did not succeed (failed,
 * unreachable, cancelled, never reached…). It starts now and gets as long as the original had between
 * its execution time and its deadline; offers too, so a rerun offer stays open as long as the first.
 */
export async function rerunJob(deps: Deps, id: string): Promise<JobView> {
  const original = await findJob(deps.db, id);
  if (!finishedJobStatuses.has(original.status)) {
    throw new Conflict('job_running', `job ${original.id} is still ${original.status}; rerun it once it has ended`);
  }
  const kind = targetKindOf(original.type);
  const rows = await deps.db
    .select({ id: jobTargets.targetId })
    .from(jobTargets)
    .where(
      and(
        eq(jobTargets.jobId, original.id),
        eq(jobTargets.kind, kind),
        notInArray(jobTargets.state, [...successfulTargetStates]),
      ),
    );
  if (rows.length === 0) {
    throw new Conflict('nothing_to_rerun', `every target of job ${original.id} succeeded; there is nothing to rerun`);
  }
  const ids = rows.map((row) => row.id);
  const pkg = await findPackage(deps.db, original.packageId);
  const now = new Date();
  const window = original.deadline.getTime() - original.scheduledAt.getTime();
  return launchJob(deps, {
    type: original.type,
    pkg,
    schedule: { scheduledAt: now, deadline: new Date(now.getTime() + window) },
    targets: kind === 'relay' ? { relays: ids } : { computers: ids },
    rerunOf: original.id,
  });
}

/**
 * Asks the job's workflow to cancel. The workflow moves unfinished targets to `cancelled` and records the
 * job's final status itself, so the view returned here may still say `scheduled` or `running`.
 */
export async function cancelJob({ db, temporal }: Pick<AppDependencies, 'db' | 'temporal'>, id: string): Promise<JobView> {
  const job = await findJob(db, id);
  if (finishedJobStatuses.has(job.status)) {
    throw new Conflict('job_finished', `job ${job.id} has already ended as ${job.status}`);
  }
  try {
    await callTemporal(temporal, () => temporal.workflow.getHandle(job.workflowId).cancel());
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new Conflict('job_finished', `job ${job.id}'s workflow has already ended; its status is being recorded`);
    }
    throw temporalUnavailable('cancel the job', error);
  }
  return getJob(db, job.id, firstPage);
}
