/**
 * Offers: putting a package on a computer's self-service page, and settling what its user did with it.
 * Choices arrive as signals (see the api's choice route) and are recorded in job_targets first, so the
 * batch can always find a choice whose signal it has not seen; installs go through installOnComputer.
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { OfferChoiceMessage, TargetRange } from '../common/workflows.js';
import { findTarget, inTargetRange, updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { signedManifestOf } from '../db/repositories/packages.js';
import { jobTargets } from '../db/schema/index.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import type { AttemptOutcome } from './computer-install.js';
import { orderValidUntil } from './computer-install.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';
import { readyForOrder } from './relay-readiness.js';

export interface OfferToComputerInput {
  jobId: string;
  computerId: string;
  packageId: string;
  deadline: string;
  /** The batch workflow that receives this computer's choice; the api signals it. */
  batchWorkflowId: string;
}

export function createOfferActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;

  /** Offered computers of one batch's range whose users chose, as the api recorded it, not yet carried out. */
  async function recordedChoices(jobId: string, range: TargetRange): Promise<OfferChoiceMessage[]> {
    const rows = await db
      .select({ computerId: jobTargets.targetId, choice: jobTargets.choice })
      .from(jobTargets)
      .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'offered'), isNotNull(jobTargets.choice)));
    return rows.flatMap(({ computerId, choice }) => (choice ? [{ computerId, choice }] : []));
  }

  return {
    /**
     * One attempt to put the offer on a computer's page. On success the target reads `offered`, together
     * with the batch workflow that will receive its user's choice; an unreachable computer, or one whose
     * relay is still receiving the package, is left for the batch to try again on a timer.
     */
    async offerToComputer(input: OfferToComputerInput): Promise<AttemptOutcome> {
      const target: TargetKey = { jobId: input.jobId, kind: 'computer', targetId: input.computerId };
      const row = await findTarget(db, target);
      if (!row) return 'ended';
      if (row.state !== 'pending' && row.state !== 'waiting_for_relay') return 'ended';
      const ready = await readyForOrder(db, target, input.packageId);
      if (typeof ready === 'string') return ready;
      const { computer, pkg } = ready;
      const attempts = row.attempts + 1;
      const validUntil = orderValidUntil(clock(), new Date(input.deadline)).toISOString();
      try {
        const status = await followOrder(deps, computer.url, () => ({
          kind: 'offer',
          jobId: input.jobId,
          agentId: computer.id,
          issuedAt: clock().toISOString(),
          validUntil,
          package: signedManifestOf(pkg),
          deadline: input.deadline,
        }));
        if (status.state !== 'offered') {
          await updateTarget(db, target, { state: 'failed', detail: status.detail ?? status.state, attempts });
          return 'ended';
        }
        await db
          .update(jobTargets)
          .set({ batchWorkflowId: input.batchWorkflowId })
          .where(and(eq(jobTargets.jobId, input.jobId), eq(jobTargets.kind, 'computer'), eq(jobTargets.targetId, input.computerId)));
        await updateTarget(db, target, { state: 'offered', detail: `offered until ${input.deadline}`, attempts });
        return 'ended';
      } catch (error) {
        if (error instanceof AgentRefused) {
          await updateTarget(db, target, { state: 'failed', detail: error.message, attempts });
          return 'ended';
        }
        if (!(error instanceof AgentUnreachable)) throw error;
        await updateTarget(db, target, { state: 'pending', detail: `${error.message} (${attempts} attempts so far)`, attempts });
        return 'retry';
      }
    },

    /** The user declined. */
    async recordDecline(jobId: string, computerId: string): Promise<void> {
      await updateTarget(db, { jobId, kind: 'computer', targetId: computerId }, { state: 'declined', detail: 'the user declined' });
    },

    /**
     * Choices the api recorded for these computers that have not been carried out yet: how a batch that
     * continued as new, or missed a signal, finds them.
     */
    recordedChoices,

    /** How many computers of one batch's range hold the offer with no choice made yet. */
    async undecidedOffers(jobId: string, range: TargetRange): Promise<number> {
      const [row] = await db
        .select({ count: sql<number>`count(*)::int` })
        .from(jobTargets)
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'offered'), isNull(jobTargets.choice)));
      return row?.count ?? 0;
    },

    /**
     * The offer's deadline has passed: offers nobody chose end `expired`, in one statement that the api's
     * claim of a choice cannot interleave with. Returns the choices recorded in time that are still to be
     * carried out, since their signals may arrive after the batch stopped listening.
     */
    async closeOffers(jobId: string, range: TargetRange): Promise<OfferChoiceMessage[]> {
      await db
        .update(jobTargets)
        .set({ state: 'expired', detail: "no choice was made before the offer's deadline", updatedAt: sql`now()` })
        .where(and(inTargetRange(jobId, 'computer', range), eq(jobTargets.state, 'offered'), isNull(jobTargets.choice)));
      return recordedChoices(jobId, range);
    },
  };
}
