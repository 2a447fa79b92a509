/**
 * Making sure a package is on the relays a job needs. A relay with an unexpired copy is sent nothing; one
 * without is sent a store order, and fetches the content from the managing server itself.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray, isNotNull, notInArray, sql } from 'drizzle-orm';
import { terminalTargetStates } from '../common/states.js';
import { findPackage, signedManifestOf } from '../db/repositories/packages.js';
import { computers, jobTargets, relayCopies, relays } from '../db/schema/index.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import { retryBeforeDeadline } from './deadline-retry.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';

export interface StageOnRelayInput {
  jobId: string;
  relayId: string;
  packageId: string;
  deadline: string;
}

export interface StageOnRelayResult {
  state: 'stored' | 'already_stored' | 'failed';
  detail: string;
}

const terminal = [...terminalTargetStates];

export function createRelayStagingActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;

  /** Computer targets of this job that sit behind `relayId`, as a subquery. */
  const targetsBehind = (relayId: string) =>
    db.select({ id: computers.id }).from(computers).where(eq(computers.relayId, relayId));

  return {
    /**
     * Marks the job's computers that are served by a relay `waiting_for_relay` and returns those relays.
     */
    async relaysServingTargets(jobId: string): Promise<string[]> {
      const rows = await db
        .selectDistinct({ relayId: computers.relayId })
        .from(jobTargets)
        .innerJoin(computers, eq(computers.id, jobTargets.targetId))
        .where(and(eq(jobTargets.jobId, jobId), eq(jobTargets.kind, 'computer'), isNotNull(computers.relayId)));
      const relayIds = rows.map((row) => row.relayId).filter((id): id is string => id !== null);
      if (relayIds.length > 0) {
        await db
          .update(jobTargets)
          .set({ state: 'waiting_for_relay', updatedAt: sql`now()` })
          .where(
            and(
              eq(jobTargets.jobId, jobId),
              eq(jobTargets.kind, 'computer'),
              eq(jobTargets.state, 'pending'),
              inArray(jobTargets.targetId, db.select({ id: computers.id }).from(computers).where(isNotNull(computers.relayId))),
            ),
          );
      }
      return relayIds;
    },

    /** Puts the package on one relay unless it already holds an unexpired copy. */
    async stageOnRelay(input: StageOnRelayInput): Promise<StageOnRelayResult> {
      const now = clock();
      const [copy] = await db
        .select()
        .from(relayCopies)
        .where(and(eq(relayCopies.relayId, input.relayId), eq(relayCopies.packageId, input.packageId)));
      if (copy?.state === 'stored' && copy.expiresAt > now) {
        return { state: 'already_stored', detail: `relay holds a copy until ${copy.expiresAt.toISOString()}` };
      }
      const [relay] = await db.select().from(relays).where(eq(relays.id, input.relayId));
      const pkg = await findPackage(db, input.packageId);
      if (!relay || !pkg) throw ApplicationFailure.nonRetryable(`relay ${input.relayId} or package ${input.packageId} no longer exists`);

      const { attempt } = Context.current().info;
      try {
        const status = await followOrder(
          deps,
          relay.url,
          () => ({
            kind: 'store',
            jobId: input.jobId,
            agentId: relay.id,
            issuedAt: clock().toISOString(),
            package: signedManifestOf(pkg),
            sourceUrl: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`,
            expiresAt: pkg.relayExpiresAt.toISOString(),
          }),
        );
        if (status.state !== 'stored') {
          return { state: 'failed', detail: `relay ${relay.name} could not store the package: ${status.detail ?? status.state}` };
        }
        const expiresAt = new Date(status.expiresAt ?? pkg.relayExpiresAt);
        const values = { state: 'stored' as const, expiresAt, storedAt: clock(), jobId: input.jobId };
        await db
          .insert(relayCopies)
          .values({ relayId: relay.id, packageId: pkg.id, ...values })
          .onConflictDoUpdate({ target: [relayCopies.relayId, relayCopies.packageId], set: values });
        return { state: 'stored', detail: `stored on relay ${relay.name} until ${expiresAt.toISOString()}` };
      } catch (error) {
        if (error instanceof AgentRefused) return { state: 'failed', detail: error.message };
        if (!(error instanceof AgentUnreachable)) throw error;
        const deadline = new Date(input.deadline);
        const failedAt = clock();
        if (failedAt >= deadline) {
          return { state: 'failed', detail: `${error.message}; gave up at the job's deadline after ${attempt} attempts` };
        }
        return retryBeforeDeadline(error, attempt, failedAt, deadline);
      }
    },

    /** The relay could not get the package: its computers in this job fail with the relay's reason. */
    async failComputersBehindRelay(jobId: string, relayId: string, reason: string): Promise<void> {
      await db
        .update(jobTargets)
        .set({ state: 'failed', detail: reason, updatedAt: sql`now()` })
        .where(
          and(
            eq(jobTargets.jobId, jobId),
            eq(jobTargets.kind, 'computer'),
            notInArray(jobTargets.state, terminal),
            inArray(jobTargets.targetId, targetsBehind(relayId)),
          ),
        );
    },
  };
}
