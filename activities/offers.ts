/**
 * Offers: putting a package on a computer's self-service page, and settling what its user did with it.
 * Choices themselves arrive as signals (see api's choice route); installs go through installOnComputer,
 * the same path as install jobs.
 */
import { Context } from '@temporalio/activity';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, signedManifestOf } from '../db/repositories/packages.js';
import { computers, jobTargets } from '../db/schema/index.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import { retryBeforeDeadline } from './deadline-retry.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';

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

  return {
    /**
     * Sends the offer and records the computer `offered`, together with the batch workflow that will receive
     * its user's choice. Returns the state the target is in afterwards.
     */
    async offerToComputer(input: OfferToComputerInput): Promise<string> {
      const target: TargetKey = { jobId: input.jobId, kind: 'computer', targetId: input.computerId };
      const { attempt } = Context.current().info;
      const [computer] = await db.select().from(computers).where(eq(computers.id, input.computerId));
      const pkg = await findPackage(db, input.packageId);
      if (!computer || !pkg) {
        return (await updateTarget(db, target, { state: 'failed', detail: 'the computer or the package no longer exists' })) ?? 'failed';
      }
      try {
        const status = await followOrder(deps, computer.url, () => ({
          kind: 'offer',
          jobId: input.jobId,
          agentId: computer.id,
          issuedAt: clock().toISOString(),
          package: signedManifestOf(pkg),
          deadline: input.deadline,
        }));
        if (status.state !== 'offered') {
          return (await updateTarget(db, target, { state: 'failed', detail: status.detail ?? status.state, attempts: attempt })) ?? 'failed';
        }
        await db
          .update(jobTargets)
          .set({ batchWorkflowId: input.batchWorkflowId })
          .where(and(eq(jobTargets.jobId, input.jobId), eq(jobTargets.kind, 'computer'), eq(jobTargets.targetId, input.computerId)));
        const detail = `offered until ${input.deadline}`;
        return (await updateTarget(db, target, { state: 'offered', detail, attempts: attempt })) ?? 'offered';
      } catch (error) {
        if (error instanceof AgentRefused) {
          return (await updateTarget(db, target, { state: 'failed', detail: error.message, attempts: attempt })) ?? 'failed';
        }
        if (!(error instanceof AgentUnreachable)) throw error;
        const deadline = new Date(input.deadline);
        const now = clock();
        if (now >= deadline) {
          const detail = `${error.message}; gave up at the offer's deadline after ${attempt} attempts`;
          return (await updateTarget(db, target, { state: 'unreachable', detail, attempts: attempt })) ?? 'unreachable';
        }
        await updateTarget(db, target, { state: 'pending', detail: `${error.message} (attempt ${attempt}; retrying until ${input.deadline})` });
        return retryBeforeDeadline(error, attempt, now, deadline);
      }
    },

    /** The user declined. */
    async recordDecline(jobId: string, computerId: string): Promise<void> {
      await updateTarget(db, { jobId, kind: 'computer', targetId: computerId }, { state: 'declined', detail: 'the user declined' });
    },

    /** The offer's deadline passed: computers whose users never chose end `expired`. */
    async expireOffers(jobId: string, computerIds: string[]): Promise<number> {
      const rows = await db
        .update(jobTargets)
        .set({ state: 'expired', detail: "no choice was made before the offer's deadline", updatedAt: sql`now()` })
        .where(
          and(
            eq(jobTargets.jobId, jobId),
            eq(jobTargets.kind, 'computer'),
            eq(jobTargets.state, 'offered'),
            isNull(jobTargets.choice),
            inArray(jobTargets.targetId, computerIds),
          ),
        )
        .returning({ targetId: jobTargets.targetId });
      return rows.length;
    },

    /**
     * The offer job was cancelled: take the offer off every page still showing it. One attempt per
     * computer: an agent that misses it drops the offer at its deadline, and the api refuses its choice.
     */
    async withdrawOffers(jobId: string, packageId: string, computerIds: string[]): Promise<number> {
      const open = await db
        .select({ id: computers.id, url: computers.url })
        .from(jobTargets)
        .innerJoin(computers, eq(computers.id, jobTargets.targetId))
        .where(
          and(
            eq(jobTargets.jobId, jobId),
            eq(jobTargets.kind, 'computer'),
            eq(jobTargets.state, 'offered'),
            inArray(jobTargets.targetId, computerIds),
          ),
        );
      const results = await Promise.allSettled(
        open.map((computer) =>
          deps.agents.send(computer.url, {
            kind: 'withdraw',
            jobId,
            agentId: computer.id,
            issuedAt: clock().toISOString(),
            packageId,
          }),
        ),
      );
      return results.filter((result) => result.status === 'fulfilled').length;
    },
  };
}
