/** Activities that move a job through its statuses and hand its targets out in pages; each is idempotent. */
import { and, eq, gt, inArray, isNotNull, isNull, lte, notInArray, sql } from 'drizzle-orm';
import { finalJobStatus, terminalTargetStates, unfinishedJobStatuses, type JobStatus, type TargetKind } from '../common/states.js';
import { countTargetStates, settleUnfinishedTargets, unfinishedTargetPage } from '../db/repositories/job-targets.js';
import { jobs, jobTargets } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

const terminal = [...terminalTargetStates];
const JOINED_AT_DEADLINE = "joined the job as its deadline came, after the last of its joiners were handed out";

export interface JobOutcome {
  status: JobStatus;
  counts: Partial<Record<string, number>>;
}

export function createJobLifecycleActivities({ db }: ActivityDependencies) {
  async function setFinalStatus(jobId: string, status: JobStatus, detail?: string): Promise<void> {
    await db
      .update(jobs)
      .set({ status, finishedAt: sql`now()`, ...(detail !== undefined && { detail }) })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, [...unfinishedJobStatuses])));
  }

  return {
    /**
     * The execution time has come: the job is running. Returns false when the job must not run at all
     * (the admin cancelled it before its workflow was launched), so the workflow ends without any work.
     */
    async startJob(jobId: string): Promise<boolean> {
      await db
        .update(jobs)
        .set({ status: 'running', startedAt: sql`coalesce(${jobs.startedAt}, now())` })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'scheduled')));
      const [job] = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId));
      return job?.status === 'running';
    },

    /** Every target has ended: the job completes, with or without errors. */
    async finishJob(jobId: string): Promise<JobOutcome> {
      // A computer may join a dynamic job in the instant its workflow hands out the last joiners at the
      // deadline: no batch will ever send it an order.
      await db
        .update(jobTargets)
        .set({ state: 'cancelled', detail: JOINED_AT_DEADLINE, updatedAt: sql`now()` })
        .where(and(eq(jobTargets.jobId, jobId), isNotNull(jobTargets.joinedAt), isNull(jobTargets.joinedBatch), notInArray(jobTargets.state, terminal)));
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

    /**
     * Where the next page of a job's unfinished targets of one kind ends: the id of its last target, or
     * null when none is left after `afterId`. Only the boundary travels; the batch reads its page itself.
     */
    async pageEnd(jobId: string, kind: TargetKind, afterId: string | undefined, limit: number, throughId?: string): Promise<string | null> {
      const page = await unfinishedTargetPage(db, jobId, kind, afterId, limit, throughId);
      return page.at(-1) ?? null;
    },

    /** How many computers of a rollout's wave (its target range) ended `failed` or `rejected`. */
    async waveFailures(jobId: string, afterId: string | undefined, throughId: string): Promise<number> {
      const [row] = await db
        .select({ failures: sql<number>`count(*)::int` })
        .from(jobTargets)
        .where(
          and(
            eq(jobTargets.jobId, jobId),
            eq(jobTargets.kind, 'computer'),
            inArray(jobTargets.state, ['failed', 'rejected']),
            isNull(jobTargets.joinedAt),
            afterId ? gt(jobTargets.targetId, afterId) : undefined,
            lte(jobTargets.targetId, throughId),
          ),
        );
      return row?.failures ?? 0;
    },

    /** A wave crossed its failure threshold: the job reads `paused`, with the reason, until an admin resumes it. */
    async pauseJob(jobId: string, reason: string): Promise<void> {
      await db.update(jobs).set({ status: 'paused', detail: reason }).where(and(eq(jobs.id, jobId), eq(jobs.status, 'running')));
    },

    /** A rollout stops before its remaining computers got anything (the deadline came first): they end `cancelled`, saying why. */
    async endRollout(jobId: string, reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'cancelled', reason);
    },

    /** An admin resumed a paused rollout: the job runs again. */
    async resumeJob(jobId: string): Promise<void> {
      await db.update(jobs).set({ status: 'running', detail: null }).where(and(eq(jobs.id, jobId), eq(jobs.status, 'paused')));
    },

    /** The job could not run at all (not one target's problem): it ends `failed` with the reason. */
    async failJob(jobId: string, reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'failed', `the job failed: ${reason}`);
      await setFinalStatus(jobId, 'failed', reason);
    },
  };
}
