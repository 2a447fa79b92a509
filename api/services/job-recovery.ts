/**
 * Jobs the api wrote but never handed to Temporal: it died between committing a job and starting its
 * workflow. At every start the api starts those workflows, so a crash at that moment loses no job.
 */
import { and, count, eq, isNull, lt } from 'drizzle-orm';
import { findPackage } from '../../db/repositories/packages.js';
import { jobTargets, jobs } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { markLaunched, startJobWorkflow } from './job-workflows.js';

/**
 * Younger jobs may still be in the hands of a request running on another api instance, which will start
 * them itself; this is far longer than a create request takes.
 */
const HAND_OVER_GRACE_MS = 30_000;

/** Starts the workflow of every job that was written but never launched; returns how many it handed over. */
export async function launchUnlaunchedJobs(deps: Pick<AppDependencies, 'db' | 'temporal' | 'config'>, now = new Date()): Promise<number> {
  const { db } = deps;
  const stranded = await db
    .select()
    .from(jobs)
    .where(and(isNull(jobs.launchedAt), lt(jobs.createdAt, new Date(now.getTime() - HAND_OVER_GRACE_MS))));
  for (const job of stranded) {
    const [targets] = await db.select({ total: count() }).from(jobTargets).where(eq(jobTargets.jobId, job.id));
    const pkg = await findPackage(db, job.packageId);
    if (!pkg) continue;
    await startJobWorkflow(deps, { ...job, jobId: job.id, pkg, targetCount: targets?.total ?? 0 });
    await markLaunched(db, job.id);
  }
  return stranded.length;
}
