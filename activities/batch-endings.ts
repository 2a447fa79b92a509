/**
 * How a batch's computers end when no order of theirs has: at the deadline (never reached, or still waiting
 * for their relay), after the deadline's grace (silent since), when the batch itself fails, and offers
 * nobody chose. Each is one statement over the batch's range, so it costs the same for 5 computers or 500.
 */
import { and, eq, inArray, isNull, notInArray, sql } from 'drizzle-orm';
import { terminalTargetStates } from '../common/states.js';
import type { TargetRange } from '../common/workflows.js';
import { inTargetRange } from '../db/repositories/job-targets.js';
import { jobTargets } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

const terminal = [...terminalTargetStates];

export function createBatchEndingActivities({ db }: ActivityDependencies) {
  const unfinishedIn = (jobId: string, range: TargetRange) =>
    and(inTargetRange(jobId, 'computer', range), notInArray(jobTargets.state, terminal));

  return {
    /**
     * The deadline has come: computers still without their order end. One waiting for its relay fails with
     * the reason; one that never answered ends `unreachable`, keeping the last error it gave; one still
     * outside its maintenance window ends `cancelled`. Computers that hold their order go on: an install
     * that began in time may finish.
     */
    async settleAtDeadline(jobId: string, range: TargetRange, deadline: string): Promise<void> {
      const gaveUp = `; gave up at the job's deadline ${deadline}`;
      await db
        .update(jobTargets)
        .set({
          state: 'failed',
          detail: sql`coalesce(${jobTargets.detail}, 'its relay did not hold the package') || ${gaveUp}`,
          updatedAt: sql`now()`,
        })
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'waiting_for_relay')));
      await db
        .update(jobTargets)
        .set({ state: 'unreachable', detail: sql`coalesce(${jobTargets.detail}, 'never answered') || ${gaveUp}`, updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'pending')));
      await db
        .update(jobTargets)
        .set({ state: 'cancelled', detail: `the job's deadline ${deadline} came before its maintenance window opened`, updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'waiting_for_window')));
    },

    /** The deadline's grace is over: computers that still hold an unfinished order have stopped reporting. */
    async giveUpOnSilent(jobId: string, range: TargetRange, deadline: string): Promise<void> {
      await db
        .update(jobTargets)
        .set({
          state: 'unreachable',
          detail: sql`'no outcome reported; last heard of at ' || coalesce(${jobTargets.lastReportAt}::text, 'never') || ${`, the job's deadline was ${deadline}`}`,
          updatedAt: sql`now()`,
        })
        .where(unfinishedIn(jobId, range));
    },

    /** The batch failed as a whole (nothing expected does this): its unfinished computers fail with the reason. */
    async failBatch(jobId: string, range: TargetRange, reason: string): Promise<void> {
      await db.update(jobTargets).set({ state: 'failed', detail: reason, updatedAt: sql`now()` }).where(unfinishedIn(jobId, range));
    },

    /**
     * The offer's deadline has passed: offers nobody chose end `expired`, in one statement that the api's
     * claim of a choice cannot interleave with. Offers whose users chose in time are carried out afterwards.
     */
    async closeOffers(jobId: string, range: TargetRange): Promise<void> {
      await db
        .update(jobTargets)
        .set({ state: 'expired', detail: "no choice was made before the offer's deadline", updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), inArray(jobTargets.state, ['offered']), isNull(jobTargets.choice)));
    },
  };
}
