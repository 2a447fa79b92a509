/**
 * Cancelling a job on the computers it reached: every computer that may hold one of the job's orders is
 * sent a cancel order, and its target records what really happened. An install whose command had not
 * started is stopped; one already running runs to its end (and its outcome is recorded); an offer is taken
 * off the page. A computer that cannot be told drops the order by itself once the order's validity ends.
 */
import { and, eq, gt, notInArray, or } from 'drizzle-orm';
import type { OrderStatus } from '../common/orders.js';
import { terminalTargetStates, type ComputerState } from '../common/states.js';
import type { TargetRange } from '../common/workflows.js';
import { forEachLimited } from '../common/concurrency.js';
import { errorMessage } from '../common/errors.js';
import { inTargetRange, updateTarget, type TargetUpdate } from '../db/repositories/job-targets.js';
import { computers, jobTargets } from '../db/schema/index.js';
import { orderValidUntil } from './install-orders.js';
import type { ActivityDependencies } from './dependencies.js';

/** Cancel orders in flight at once from one activity. */
const CANCEL_CONCURRENCY = 20;

export type CancelOnComputersInput = TargetRange & {
  jobId: string;
  packageId: string;
  deadline: string;
};

function recordedOutcome(status: OrderStatus): TargetUpdate {
  switch (status.state) {
    case 'cancelled':
    case 'withdrawn':
      return { state: 'cancelled', detail: 'the job was cancelled; the computer stopped its order' };
    case 'installing':
      return { state: 'cancelled', detail: 'the job was cancelled while the install command ran; the computer lets it run to its end' };
    case 'expired':
      return { state: 'cancelled', detail: 'the job was cancelled; the computer had already dropped the expired order' };
    default:
      // The order had already ended: its real outcome is what the target keeps.
      return { state: status.state as ComputerState, detail: status.detail ?? null };
  }
}

export function createCancelOrderActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;
  return {
    /** Sends one cancel order to each unfinished computer of one batch's range that the job may have reached. */
    async cancelOnComputers(input: CancelOnComputersInput): Promise<number> {
      const reached = await db
        .select({ id: computers.id, url: computers.url })
        .from(jobTargets)
        .innerJoin(computers, eq(computers.id, jobTargets.targetId))
        .where(
          and(
            inTargetRange(input.jobId, 'computer', input),
            notInArray(jobTargets.state, [...terminalTargetStates]),
            or(gt(jobTargets.attempts, 0), eq(jobTargets.state, 'offered')),
          ),
        );
      const validUntil = orderValidUntil(clock(), new Date(input.deadline)).toISOString();
      let told = 0;
      await forEachLimited(reached, CANCEL_CONCURRENCY, async (computer) => {
        const target = { jobId: input.jobId, kind: 'computer' as const, targetId: computer.id };
        try {
          const status = await deps.agents.send(computer.url, {
            kind: 'cancel',
            jobId: input.jobId,
            agentId: computer.id,
            issuedAt: clock().toISOString(),
            validUntil,
            packageId: input.packageId,
          });
          await updateTarget(db, target, recordedOutcome(status));
          told++;
        } catch (error) {
          const detail = `the job was cancelled; the computer could not be told (${errorMessage(error)}); it drops the order once the order's validity ends, by ${validUntil} at the latest`;
          await updateTarget(db, target, { state: 'cancelled', detail });
        }
      });
      return told;
    },
  };
}
