/** Activities that move a job through its statuses; each is idempotent and safe to retry. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { finalJobStatus, type JobStatus, type TargetKind } from '../common/states.js';
import { countTargetStates, settleUnfinishedTargets, unfinishedTargetPage } from '../db/repositories/job-targets.js';
import { jobs } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

const unfinished: JobStatus[] = ['scheduled', 'running'];

export interface JobOutcome {
  status: JobStatus;
  counts: Partial<Record<string, number>>;
}

export function createJobLifecycleActivities({ db }: ActivityDependencies) {
  async function setFinalStatus(jobId: string, status: JobStatus, detail?: string): Promise<void> {
    await db
      .update(jobs)
      .set({ status, finishedAt: sql`now()`, ...(detail !== undefined && { detail }) })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, unfinished)));
  }

  return {
    /** The execution time has come: the job is running. */
    async startJob(jobId: string): Promise<void> {
      await db
        .update(jobs)
        .set({ status: 'running', startedAt: sql`coalesce(${jobs.startedAt}, now())` })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'scheduled')));
    },

    /** Every target has ended: the job completes, with or without errors. */
    async finishJob(jobId: string): Promise<JobOutcome> {
      const counts = await countTargetStates(db, jobId);
      const status = finalJobStatus(counts);
      await setFinalStatus(jobId, status);
      return { status, counts };
    },

    /** The admin cancelled: unfinished targets end `cancelled`, and so does the job. */
    async cancelJob(jobId: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'cancelled', 'the job was cancelled');
      await setFinalStatus(jobId, 'cancelled');
    },

    /** The next page of a job's unfinished targets of one kind (IDs only: pages keep histories small). */
    async targetPage(jobId: string, kind: TargetKind, afterId: string | undefined, limit: number): Promise<string[]> {
      return unfinishedTargetPage(db, jobId, kind, afterId, limit);
    },

    /** Fails targets whose work could not even be attempted (for example a batch that crashed). */
    async failTargets(jobId: string, targetIds: string[], reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'failed', reason, targetIds);
    },

    /** The job could not run at all (not one target's problem): it ends `failed` with the reason. */
    async failJob(jobId: string, reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'failed', `the job failed: ${reason}`);
      await setFinalStatus(jobId, 'failed', reason);
    },
  };
}
