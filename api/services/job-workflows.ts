/**
 * Handing a job to Temporal: starting its workflow with the job's search attributes, one-line summary and details,
 * recording that Temporal accepted it, and cancelling a job that was never handed over. Used when a job is
 * created and by the sweep that hands over jobs whose start failed or was never confirmed.
 *
 * One job, one run: the workflow ID is the job's and may never be reused, so repeating a start (after a
 * crash, a timeout, or by two api instances at once) finds the run that exists. A job is cancelled before
 * its launch only by a statement conditional on `launched_at is null`, and whoever records the launch
 * afterwards sees the cancellation and cancels the workflow it has just started.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, isNull, notInArray, sql } from 'drizzle-orm';
import { searchAttributes } from '../../common/names.js';
import type { RolloutPlan } from '../../common/rollout.js';
import { describeWindow, type MaintenanceWindow } from '../../common/windows.js';
import { terminalTargetStates, type JobStatus, type JobType } from '../../common/states.js';
import { jobWorkflowTypes, type JobWorkflowInput } from '../../common/workflows.js';
import type { PackageRow } from '../../db/repositories/packages.js';
import { jobs, jobTargets, type TargetSpec } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { targetKindOf } from './job-targets.js';
import { callTemporal } from './temporal-calls.js';

type Deps = Pick<AppDependencies, 'db' | 'temporal' | 'config' | 'logger'>;

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
  rollout?: RolloutPlan | null;
  window?: MaintenanceWindow | null;
  /** The named window `window` was copied from. */
  windowName?: string | null;
  /** Install jobs with a window: computers download before it opens. */
  downloadOutsideWindow: boolean;
  /** What the admin targeted: a dynamic spec keeps taking in computers that gain its labels. */
  targetSpec: TargetSpec;
}

/** Why the targets of a job cancelled before its launch ended: nothing was ever sent to them. */
export const CANCELLED_BEFORE_START = 'the job was cancelled before it started';

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function labelsLine(labels: TargetSpec['labels']): string {
  return Object.entries(labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

function windowRule(job: JobLaunch): string {
  return job.downloadOutsideWindow ? 'computers download before it opens and install only inside it' : 'computers get their orders only inside it';
}

function rolloutDetails(plan: RolloutPlan): string {
  const sizes = plan.waves.map((wave) => wave.size).join(', ');
  const threshold = plan.failureThreshold === null ? 'no failure threshold' : `pausing above ${plan.failureThreshold * 100}% failed in a wave`;
  return `**Rollout** ${plural(plan.waves.length, 'wave')} of ${sizes} computers, ${plan.pauseSeconds} s apart, ${threshold}`;
}

/** What an operator reads about a job in the Temporal UI (markdown), without opening the database. */
export function jobDetails(job: JobLaunch): string {
  return [
    `**Job** ${job.jobId} (${job.type})${job.rerunOf ? `, a rerun of job ${job.rerunOf}` : ''}`,
    `**Package** ${job.pkg.name} ${job.pkg.version}, ${job.pkg.format}, ${job.pkg.size} bytes, id ${job.pkg.id}`,
    `**Targets** ${plural(job.targetCount, targetKindOf(job.type))}${job.targetSpec.dynamic ? `; computers that gain the labels ${labelsLine(job.targetSpec.labels)} join until the deadline` : ''}`,
    ...(job.rollout ? [rolloutDetails(job.rollout)] : []),
    ...(job.window ? [`**Maintenance window** ${job.windowName ? `${job.windowName}, ` : ''}${describeWindow(job.window)}: ${windowRule(job)}`] : []),
    `**Execution time** ${job.scheduledAt.toISOString()}; **deadline** ${job.deadline.toISOString()}`,
    `**Progress** \`GET /api/v1/jobs/${job.jobId}\` or \`courier jobs watch ${job.jobId}\``,
  ].join('\n\n');
}

/**
 * Starts the job's workflow. A workflow that already exists, running or closed, counts as started: the
 * reuse policy makes Temporal refuse a second run of the same ID, so a repeated start never runs a job twice.
 */
export async function startJobWorkflow({ temporal, config }: Pick<Deps, 'temporal' | 'config'>, job: JobLaunch): Promise<void> {
  const input: JobWorkflowInput = {
    jobId: job.jobId,
    packageId: job.pkg.id,
    scheduledAt: job.scheduledAt.toISOString(),
    deadline: job.deadline.toISOString(),
    ...(job.rollout && { rollout: job.rollout }),
    ...(job.window && { window: job.window }),
    ...(job.window && job.downloadOutsideWindow && { downloadOutsideWindow: true }),
    ...(job.targetSpec.dynamic && { dynamic: true }),
  };
  const rerun = job.rerunOf ? `rerun of job ${job.rerunOf}: ` : '';
  const what = `${job.type} ${job.pkg.name} ${job.pkg.version} on ${plural(job.targetCount, targetKindOf(job.type))}`;
  try {
    await callTemporal(temporal, () =>
      temporal.workflow.start(jobWorkflowTypes[job.type], {
        taskQueue: config.taskQueue,
        workflowId: job.workflowId,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [input],
        typedSearchAttributes: [
          { key: searchAttributes.jobId, value: job.jobId },
          { key: searchAttributes.jobType, value: job.type },
          { key: searchAttributes.packageId, value: job.pkg.id },
        ],
        staticSummary: `${rerun}${what} at ${input.scheduledAt}`,
        staticDetails: jobDetails(job),
      }),
    );
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/**
 * Records that Temporal has the job, so it is never handed over again, and returns the job's status as it
 * now stands (undefined when the job is gone).
 */
async function markLaunched(db: Deps['db'], jobId: string): Promise<JobStatus | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ launchedAt: sql`coalesce(${jobs.launchedAt}, now())` })
    .where(eq(jobs.id, jobId))
    .returning({ status: jobs.status });
  return row?.status;
}

/**
 * Asks a job's workflow to cancel; the workflow records the outcome. Throws WorkflowNotFoundError when no
 * run is open (never started, or ended), and Temporal's error when it could not be asked.
 */
export async function cancelJobWorkflow(temporal: Deps['temporal'], workflowId: string): Promise<void> {
  await callTemporal(temporal, () => temporal.workflow.getHandle(workflowId).cancel());
}

/**
 * Stops a workflow whose job was cancelled before it was launched, as far as Temporal can be reached. When
 * it cannot, nothing is lost: the workflow's first activity finds the job no longer `scheduled` and ends
 * without any work.
 */
async function cancelStrayWorkflow({ temporal, logger }: Pick<Deps, 'temporal' | 'logger'>, workflowId: string): Promise<void> {
  try {
    await cancelJobWorkflow(temporal, workflowId);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) {
      logger.warn({ workflowId, err: error }, 'could not cancel a workflow whose job was cancelled before its launch; it will end on its own');
    }
  }
}

/**
 * Hands a written job to Temporal: starts its workflow and records the launch. Should the admin have
 * cancelled the job in the meantime (in PostgreSQL only, since it was not launched yet), the workflow just
 * started is cancelled too. Throws what the start threw; the job then stays unlaunched.
 */
export async function handOverJob(deps: Deps, job: JobLaunch): Promise<void> {
  await startJobWorkflow(deps, job);
  if ((await markLaunched(deps.db, job.jobId)) === 'cancelled') await cancelStrayWorkflow(deps, job.workflowId);
}

/**
 * Cancels a job that was never launched, in one transaction: the job and its unfinished targets end
 * `cancelled`. Conditional on the job being still `scheduled` and unlaunched, so it cannot overtake a
 * launch already recorded; returns false when that no longer holds. A workflow the job may have anyway (a
 * start that went through unconfirmed) is asked to cancel as well.
 */
export async function cancelBeforeLaunch(
  { db, temporal, logger }: Pick<Deps, 'db' | 'temporal' | 'logger'>,
  jobId: string,
  workflowId: string,
): Promise<boolean> {
  const cancelled = await db.transaction(async (tx) => {
    const [row] = await tx
      .update(jobs)
      .set({ status: 'cancelled', finishedAt: sql`now()` })
      .where(and(eq(jobs.id, jobId), eq(jobs.status, 'scheduled'), isNull(jobs.launchedAt)))
      .returning({ id: jobs.id });
    if (!row) return false;
    await tx
      .update(jobTargets)
      .set({ state: 'cancelled', detail: CANCELLED_BEFORE_START, updatedAt: sql`now()` })
      .where(and(eq(jobTargets.jobId, jobId), notInArray(jobTargets.state, [...terminalTargetStates])));
    return true;
  });
  if (cancelled) await cancelStrayWorkflow({ temporal, logger }, workflowId);
  return cancelled;
}
