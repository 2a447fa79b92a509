/**
 * Jobs written but never handed to Temporal: the api died between committing a job and starting its
 * workflow, or the start failed ambiguously (a timeout, a lost connection) and the job was kept. The api
 * starts those workflows at start and then periodically, so such a job waits for Temporal, never forever.
 * Only jobs still `scheduled` are started: a job cancelled before its launch stays cancelled, and a job
 * whose workflow already ran keeps its run (the workflow ID admits no second one).
 */
import { and, count, eq, isNull, lt } from 'drizzle-orm';
import { errorMessage } from '../../common/errors.js';
import { findPackage } from '../../db/repositories/packages.js';
import { jobTargets, jobs } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { handOverJob } from './job-workflows.js';
import { isDefiniteRefusal } from './temporal-calls.js';

type Deps = Pick<AppDependencies, 'db' | 'temporal' | 'config' | 'logger'>;

/**
 * Younger jobs may still be in the hands of a request running on another api instance, which will start
 * them itself; this is far longer than a create request takes.
 */
const HAND_OVER_GRACE_MS = 30_000;

/** A job that is still to be launched: scheduled, and no launch recorded. */
const awaitingLaunch = and(isNull(jobs.launchedAt), eq(jobs.status, 'scheduled'));

/** Hands one stranded job over unless it was cancelled or launched since it was listed. */
async function handOverStranded(deps: Deps, jobId: string): Promise<boolean> {
  const { db } = deps;
  const [job] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, jobId), awaitingLaunch));
  const pkg = job && (await findPackage(db, job.packageId));
  if (!job || !pkg) return false;
  const [targets] = await db.select({ total: count() }).from(jobTargets).where(eq(jobTargets.jobId, job.id));
  // A cancel that lands between this check and the start is seen by handOverJob, which then cancels the run.
  await handOverJob(deps, { ...job, jobId: job.id, pkg, targetCount: targets?.total ?? 0 });
  return true;
}

/**
 * Starts the workflow of every job that was written but never launched; returns how many it handed over.
 * A job Temporal refuses is left for the next sweep and the others go on; a failure that suggests Temporal
 * is unreachable ends the sweep, as every further start would only wait for its own deadline. Throws after
 * the sweep when any job could not be handed over.
 */
export async function launchUnlaunchedJobs(deps: Deps, now = new Date()): Promise<number> {
  const stranded = await deps.db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(awaitingLaunch, lt(jobs.createdAt, new Date(now.getTime() - HAND_OVER_GRACE_MS))))
    .orderBy(jobs.createdAt);
  let launched = 0;
  const failures: unknown[] = [];
  for (const { id } of stranded) {
    try {
      if (await handOverStranded(deps, id)) launched += 1;
    } catch (error) {
      failures.push(error);
      if (!isDefiniteRefusal(error)) break;
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `${launched} of ${stranded.length} stranded job(s) handed over; stopped at ${errorMessage(failures[0])}`,
    );
  }
  return launched;
}
