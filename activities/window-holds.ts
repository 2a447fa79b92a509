/**
 * Computers held outside their job's maintenance window: a batch marks those still without their order
 * `waiting_for_window` (saying when it opens) while it sleeps, and back `pending` when the window opens.
 * One statement over the batch's range each.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { TargetRange } from '../common/workflows.js';
import { inTargetRange } from '../db/repositories/job-targets.js';
import { jobTargets } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

export function createWindowHoldActivities({ db }: ActivityDependencies) {
  return {
    /** The batch's computers without their order wait for the window, which opens at `opensAt`. */
    async holdForWindow(jobId: string, range: TargetRange, opensAt: string): Promise<void> {
      await db
        .update(jobTargets)
        // No report: the computer holds no order (unlike one that downloaded before the window and waits).
        .set({ state: 'waiting_for_window', detail: `outside the maintenance window; it opens at ${opensAt}`, lastReportAt: null, updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), inArray(jobTargets.state, ['pending', 'waiting_for_relay'])));
    },

    /** The window has opened: the batch's waiting computers are due their orders. */
    async releaseForWindow(jobId: string, range: TargetRange): Promise<void> {
      await db
        .update(jobTargets)
        .set({ state: 'pending', detail: null, updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'waiting_for_window')));
    },
  };
}
