/**
 * Making sure a package is on the relays a job needs. A relay with an unexpired copy is sent nothing; one
 * without is sent a store order, and fetches the content from the managing server itself.
 */
import { Context } from '@temporalio/activity';
import { and, eq, inArray, isNotNull, notInArray, sql } from 'drizzle-orm';
import { terminalTargetStates } from '../common/states.js';
import { updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, signedManifestOf } from '../db/repositories/packages.js';
import { computers, jobTargets, relayCopies, relays } from '../db/schema/index.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import { retryBeforeDeadline } from './deadline-retry.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';
import { recordStoredCopy } from './relay-copies.js';

export interface StageOnRelayInput {
  jobId: string;
  relayId: string;
  packageId: string;
  deadline: string;
  /**
   * `install` (install and offer jobs): any intact, unexpired copy will do. `transfer`: the copy must also
   * carry the package's current expiry, so a transfer after a PATCH of the expiry sends it again.
   */
  purpose: 'install' | 'transfer';
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

    /**
     * Puts the package on one relay unless it already holds a fitting copy, and records the outcome on the
     * job's relay target when the job has one (transfer jobs).
     */
    async stageOnRelay(input: StageOnRelayInput): Promise<StageOnRelayResult> {
      const target: TargetKey = { jobId: input.jobId, kind: 'relay', targetId: input.relayId };
      const { attempt } = Context.current().info;
      const finish = async (result: StageOnRelayResult): Promise<StageOnRelayResult> => {
        await updateTarget(db, target, { state: result.state, detail: result.detail, attempts: attempt });
        return result;
      };
      const pkg = await findPackage(db, input.packageId);
      const [relay] = await db.select().from(relays).where(eq(relays.id, input.relayId));
      if (!relay || !pkg) return finish({ state: 'failed', detail: 'the relay or the package no longer exists' });

      // The relay is always asked, since a cache can lose what the record says it holds; it fetches nothing
      // when it holds an intact copy with the expiry in the order. An install or offer job asks for the copy
      // on record (any unexpired one will do); a transfer job asks for the package's current expiry, so a
      // copy stored before the expiry was changed is sent again (a retransfer).
      const [copy] = await db
        .select()
        .from(relayCopies)
        .where(and(eq(relayCopies.relayId, relay.id), eq(relayCopies.packageId, pkg.id)));
      const copyOnRecord = copy?.state === 'stored' && copy.expiresAt > clock() ? copy.expiresAt : undefined;
      const wantedExpiry = input.purpose === 'install' && copyOnRecord ? copyOnRecord : pkg.relayExpiresAt;

      await updateTarget(db, target, { state: 'transferring', attempts: attempt });
      try {
        const status = await followOrder(deps, relay.url, () => ({
          kind: 'store',
          jobId: input.jobId,
          agentId: relay.id,
          issuedAt: clock().toISOString(),
          package: signedManifestOf(pkg),
          sourceUrl: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`,
          expiresAt: wantedExpiry.toISOString(),
        }));
        if (status.state !== 'stored') {
          return finish({ state: 'failed', detail: `relay ${relay.name} could not store the package: ${status.detail ?? status.state}` });
        }
        const expiresAt = new Date(status.expiresAt ?? wantedExpiry);
        await recordStoredCopy(deps, { relayId: relay.id, packageId: pkg.id, jobId: input.jobId, expiresAt });
        if (status.bytes === 0) {
          return finish({ state: 'already_stored', detail: `relay ${relay.name} already held an intact copy until ${expiresAt.toISOString()}` });
        }
        return finish({ state: 'stored', detail: `stored on relay ${relay.name} until ${expiresAt.toISOString()}` });
      } catch (error) {
        if (error instanceof AgentRefused) return finish({ state: 'failed', detail: error.message });
        if (!(error instanceof AgentUnreachable)) throw error;
        const deadline = new Date(input.deadline);
        const failedAt = clock();
        if (failedAt >= deadline) {
          return finish({ state: 'failed', detail: `${error.message}; gave up at the job's deadline after ${attempt} attempts` });
        }
        await updateTarget(db, target, { state: 'transferring', detail: `${error.message} (attempt ${attempt}; retrying until ${deadline.toISOString()})` });
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
