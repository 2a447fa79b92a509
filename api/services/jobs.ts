/**
 * Creating, rerunning, resuming and cancelling jobs. A job is written to PostgreSQL (row and targets, one
 * transaction) and then handed to its Temporal workflow (job-workflows.ts); if Temporal refuses, the job is
 * deleted again so no job exists that nothing will ever run. A job must be able to end before its package
 * expires on relays. Progress is recorded by the workflow, never by the api.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, isNull, notInArray } from 'drizzle-orm';
import { causeMessage } from '../../common/errors.js';
import type { Rollout } from '../../common/rollout.js';
import type { MaintenanceWindow } from '../../common/windows.js';
import { resumeJobSignal } from '../../common/workflows.js';
import { jobWorkflowId } from '../../common/names.js';
import { successfulTargetStates, type JobStatus, type JobType } from '../../common/states.js';
import { refreshTargetStatistics } from '../../db/repositories/job-targets.js';
import type { PackageRow } from '../../db/repositories/packages.js';
import { jobs, jobTargets, packages, type TargetSpec } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { Conflict, InvalidInput, Unavailable } from '../errors.js';
import type { JobQuery } from '../list-queries.js';
import { resolveJobSchedule, type JobRequest, type JobSchedule, type ScheduleRules } from '../validation.js';
import { insertJobTargets, targetKindOf } from './job-targets.js';
import { cancelBeforeLaunch, cancelJobWorkflow, handOverJob } from './job-workflows.js';
import { resolveWindow } from './named-windows.js';
import { planRollout } from './rollouts.js';
import { findJob, getJob, type JobView } from './job-views.js';
import { findPackage } from './packages.js';
import { callTemporal, isDefiniteRefusal, temporalUnavailable } from './temporal-calls.js';

type Deps = Pick<AppDependencies, 'db' | 'temporal' | 'config' | 'logger'>;

/** Jobs of this many targets refresh the table's statistics: a job's lookups go wrong from a few thousand on. */
const ANALYZE_FROM_TARGETS = 1000;

/** Statuses a job never leaves: its workflow has ended. */
export const finishedJobStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>([
  'completed',
  'completed_with_errors',
  'cancelled',
  'failed',
]);

/** The view returned by create, rerun and cancel: the first page of targets, unfiltered. */
const firstPage: JobQuery = { targetsLimit: 1000 };

/** Everything a new job is made of. */
interface NewJob {
  type: JobType;
  pkg: PackageRow;
  schedule: JobSchedule;
  targets: TargetSpec;
  rerunOf?: string;
  downloads: DownloadBounds;
  /** Install jobs: run the command where another job installed the package already. */
  reinstall: boolean;
  /** Install and offer jobs: hand the computers out in these waves. */
  rollout?: Rollout;
  /** Install and offer jobs: when computers may get their orders. */
  window?: MaintenanceWindow | null;
  /** The named window `window` was copied from. */
  windowName?: string | null;
  /** Install jobs with a window: computers download before it opens. */
  downloadOutsideWindow: boolean;
}

/** A job's own download bounds; null takes the worker's defaults. */
interface DownloadBounds {
  downloadsPerRelay: number | null;
  serverDownloads: number | null;
}

/**
 * Writes the job and its targets in one transaction, then hands it to Temporal. Only a definite refusal
 * undoes the write (Temporal answered that it started nothing). After an ambiguous failure (a timeout, a
 * lost connection) the workflow may exist or not: the job stays, unlaunched, and the recovery sweep starts
 * it once Temporal answers, which the workflow ID makes safe either way. So no job is left that nothing
 * will run, and none runs twice.
 */
async function launchJob(deps: Deps, job: NewJob): Promise<JobView> {
  const { db } = deps;
  const { type, pkg, schedule } = job;
  const jobId = randomUUID();
  const workflowId = jobWorkflowId(jobId);
  const { targetCount, rollout } = await db.transaction(async (tx) => {
    // Shares the package row's lock with a retirement (api/services/packages.ts): one of them waits.
    const [live] = await tx
      .select({ id: packages.id })
      .from(packages)
      .where(and(eq(packages.id, pkg.id), isNull(packages.retiredAt)))
      .for('share');
    if (!live) throw new Conflict('package_retired', `package ${pkg.id} was retired: no new job may use it`);
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
      ...job.downloads,
      reinstall: job.reinstall,
      window: job.window ?? null,
      windowName: job.windowName ?? null,
      downloadOutsideWindow: job.downloadOutsideWindow,
    });
    const count = await insertJobTargets(tx, jobId, type, job.targets);
    if (job.rollout && count === 0) {
      throw new InvalidInput('no_targets', 'a rollout divides the computers a job starts with into waves, and no computer carries its labels yet');
    }
    return { targetCount: count, rollout: job.rollout && (await planRollout(tx, jobId, job.rollout, count)) };
  });
  // A large job's rows must be known to the planner before its first report arrives (see the function).
  if (targetCount >= ANALYZE_FROM_TARGETS) await refreshTargetStatistics(db);

  try {
    await handOverJob(deps, {
      jobId,
      workflowId,
      type,
      pkg,
      ...schedule,
      targetCount,
      rerunOf: job.rerunOf,
      rollout,
      window: job.window,
      windowName: job.windowName,
      downloadOutsideWindow: job.downloadOutsideWindow,
      targetSpec: job.targets,
    });
  } catch (error) {
    if (isDefiniteRefusal(error)) {
      // job_targets rows go with the job (ON DELETE CASCADE).
      await db.delete(jobs).where(and(eq(jobs.id, jobId), isNull(jobs.launchedAt)));
      const reason = causeMessage(error);
      throw new Unavailable('temporal_unavailable', `Temporal refused to start the job's workflow, so no job was created: ${reason}`);
    }
    // The admin gets the job (it is real and will run), not an error that would invite a duplicate.
    deps.logger.warn({ jobId, workflowId, err: error }, 'Temporal did not confirm the start of the job; the recovery sweep starts it');
  }
  return getJob(db, jobId, firstPage);
}

/** The schedule rules of a new job: offers close at the package's relay expiration unless told otherwise. */
function scheduleRules(type: JobType, pkg: PackageRow, config: Deps['config'], now: Date): ScheduleRules {
  return { now, pkg, defaultDeadlineMs: type === 'offer' ? undefined : config.defaultDeadlineMs };
}

/** Creates a job, its targets and its workflow; answers with the job as it now stands. */
export async function createJob(deps: Deps, request: JobRequest): Promise<JobView> {
  const pkg = await findPackage(deps.db, request.packageId);
  const schedule = resolveJobSchedule(request, scheduleRules(request.type, pkg, deps.config, new Date()));
  const downloads = { downloadsPerRelay: request.downloadsPerRelay ?? null, serverDownloads: request.serverDownloads ?? null };
  const window = request.window === undefined ? undefined : await resolveWindow(deps.db, request.window);
  return launchJob(deps, {
    type: request.type,
    pkg,
    schedule,
    targets: request.targets,
    downloads,
    reinstall: request.reinstall ?? false,
    rollout: request.rollout,
    window: window?.window,
    windowName: window?.name,
    downloadOutsideWindow: request.downloadOutsideWindow ?? false,
  });
}

/**
 * A new job of the same type and package for the finished job's targets that did not succeed (failed,
 * unreachable, cancelled, never reached…). It starts now and gets as long as the original had between
 * its execution time and its deadline (offers too, so a rerun offer stays open as long as the first), but
 * never beyond the package's relay expiration date, like any deadline the admin did not give.
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
  const window = original.deadline.getTime() - original.scheduledAt.getTime();
  const schedule = resolveJobSchedule({}, { now: new Date(), pkg, defaultDeadlineMs: window });
  return launchJob(deps, {
    type: original.type,
    pkg,
    schedule,
    targets: kind === 'relay' ? { relays: ids } : { computers: ids },
    rerunOf: original.id,
    downloads: { downloadsPerRelay: original.downloadsPerRelay, serverDownloads: original.serverDownloads },
    reinstall: original.reinstall,
    window: original.window,
    windowName: original.windowName,
    downloadOutsideWindow: original.downloadOutsideWindow,
  });
}

/**
 * Resumes a paused rollout: its workflow hands out the next wave and records the job running again. 409
 * `job_not_paused` for any other job.
 */
export async function resumeRollout({ db, temporal }: Pick<AppDependencies, 'db' | 'temporal'>, id: string): Promise<JobView> {
  const job = await findJob(db, id);
  if (job.status !== 'paused') throw new Conflict('job_not_paused', `job ${job.id} is ${job.status}, not paused; only a paused rollout resumes`);
  try {
    await callTemporal(temporal, () => temporal.workflow.getHandle(job.workflowId).signal(resumeJobSignal));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new Conflict('job_not_paused', `job ${job.id}'s workflow has ended`);
    throw temporalUnavailable('resume the job', error);
  }
  return getJob(db, job.id, firstPage);
}

/** A cancelled job as it now stands, and whether it has ended already or its workflow was asked to end. */
export interface CancelOutcome {
  job: JobView;
  /** True when the job never launched and was cancelled on the spot; false when its workflow cancels it. */
  settled: boolean;
}

/**
 * Cancels a job. One that was never handed to Temporal is cancelled at once in PostgreSQL (so the recovery
 * sweep will not start it). Otherwise its workflow is asked to cancel; it moves unfinished targets to
 * `cancelled` and records the job's final status itself, so the view may still say `scheduled` or `running`.
 */
export async function cancelJob(deps: Pick<AppDependencies, 'db' | 'temporal' | 'logger'>, id: string): Promise<CancelOutcome> {
  const { db, temporal } = deps;
  const job = await findJob(db, id);
  if (finishedJobStatuses.has(job.status)) {
    throw new Conflict('job_finished', `job ${job.id} has already ended as ${job.status}`);
  }
  if (job.launchedAt === null && (await cancelBeforeLaunch(deps, job.id, job.workflowId))) {
    return { job: await getJob(db, job.id, firstPage), settled: true };
  }
  try {
    await cancelJobWorkflow(temporal, job.workflowId);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new Conflict('job_finished', `job ${job.id}'s workflow has already ended; its status is being recorded`);
    }
    throw temporalUnavailable('cancel the job', error);
  }
  return { job: await getJob(db, job.id, firstPage), settled: false };
}
