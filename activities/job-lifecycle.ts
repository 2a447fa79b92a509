/** Activities that move a job through its statuses and hand its targets out in pages; each is idempotent. */
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { finalJobStatus, terminalTargetStates, type JobStatus, type TargetKind } from '../common/states.js';
import {
  countTargetStates,
  settleUnfinishedTargets,
  unfinishedTargetPage,
  unfinishedTargetsInRange,
} from '../db/repositories/job-targets.js';
import type { TargetRange } from '../common/workflows.js';
import { jobs, jobTargets } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

const unfinished: JobStatus[] = ['scheduled', 'running'];
const terminal = [...terminalTargetStates];

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
    async pageEnd(jobId: string, kind: TargetKind, afterId: string | undefined, limit: number): Promise<string | null> {
      const page = await unfinishedTargetPage(db, jobId, kind, afterId, limit);
      return page.at(-1) ?? null;
    },

    /**
     * The unfinished computers of one batch's page; `waitingOnly` leaves out those already offered, which
     * an offer batch that continued as new must not offer again.
     */
    async batchComputers(jobId: string, range: TargetRange, waitingOnly = false): Promise<string[]> {
      return unfinishedTargetsInRange(db, jobId, 'computer', range, waitingOnly ? ['offered'] : []);
    },

    /** Fails targets whose work could not even be attempted (for example a batch that crashed). */
    async failTargets(jobId: string, targetIds: string[], reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'failed', reason, targetIds);
    },

    /**
     * The job's deadline has passed: computers still waiting end. One waiting for its relay fails with the
     * reason; one that never answered ends `unreachable`, keeping the last error it gave.
     */
    async settleAtDeadline(jobId: string, computerIds: string[], deadline: string): Promise<void> {
      const mine = and(
        eq(jobTargets.jobId, jobId),
        eq(jobTargets.kind, 'computer'),
        inArray(jobTargets.targetId, computerIds),
        notInArray(jobTargets.state, terminal),
      );
      await db
        .update(jobTargets)
        .set({
          state: 'failed',
          detail: sql`coalesce(${jobTargets.detail}, 'its relay did not hold the package') || ${`; gave up at the job's deadline ${deadline}`}`,
          updatedAt: sql`now()`,
        })
        .where(and(mine, eq(jobTargets.state, 'waiting_for_relay')));
      await db
        .update(jobTargets)
        .set({
          state: 'unreachable',
          detail: sql`coalesce(${jobTargets.detail}, 'never answered') || ${`; gave up at the job's deadline ${deadline}`}`,
          updatedAt: sql`now()`,
        })
        .where(mine);
    },

    /** Those of `computerIds` that still wait for their relay (a relay that finished moved them on). */
    async stillWaitingForRelay(jobId: string, computerIds: string[]): Promise<string[]> {
      const rows = await db
        .select({ targetId: jobTargets.targetId })
        .from(jobTargets)
        .where(
          and(
            eq(jobTargets.jobId, jobId),
            eq(jobTargets.kind, 'computer'),
            inArray(jobTargets.targetId, computerIds),
            eq(jobTargets.state, 'waiting_for_relay'),
          ),
        );
      return rows.map((row) => row.targetId);
    },

    /** The job could not run at all (not one target's problem): it ends `failed` with the reason. */
    async failJob(jobId: string, reason: string): Promise<void> {
      await settleUnfinishedTargets(db, jobId, 'failed', `the job failed: ${reason}`);
      await setFinalStatus(jobId, 'failed', reason);
    },
  };
}
