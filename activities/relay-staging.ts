/**
 * Making sure a package is on the relays a job needs. Every relay a job stages on has a row in job_relays
 * (for transfer jobs: its relay targets; for install and offer jobs: the relays of its computers), which
 * tells the computers behind it whether to download, wait, or fail with the relay's reason. A relay with
 * an intact copy is sent nothing; one without fetches the content from the managing server itself.
 */
import { and, asc, eq, gt, inArray, notInArray, sql } from 'drizzle-orm';
import { terminalTargetStates } from '../common/states.js';
import { listComputersRelays } from '../db/repositories/job-joiners.js';
import { updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, signedManifestOf } from '../db/repositories/packages.js';
import { computers, jobRelays, jobTargets, relayCopies, relays } from '../db/schema/index.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import type { ActivityDependencies } from './dependencies.js';
import { orderValidUntil } from './install-orders.js';
import { followOrder } from './order-follower.js';
import { recordStoredCopy } from './relay-copies.js';

/**
 * How one attempt at a relay went: it `ended` (the relay's state is final) or the relay could not be
 * reached and is to be tried again later (`retry`), on a durable timer rather than in a worker slot.
 */
export type AttemptOutcome = 'ended' | 'retry';

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

type RelayOutcome = { state: 'stored' | 'already_stored' | 'failed'; detail: string } | { state: 'transferring'; detail: string | null };

const terminal = [...terminalTargetStates];
const staging = ['pending', 'transferring'] as const;

export function createRelayStagingActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;

  /**
   * Writes where staging on one relay stands for this job: its job_relays row, its relay target (transfer
   * jobs), and, when the relay could not get the package, the job's computers behind it fail with why.
   */
  async function recordRelay(jobId: string, relayId: string, outcome: RelayOutcome, attempts?: number): Promise<void> {
    await db
      .update(jobRelays)
      .set({
        state: outcome.state,
        ...(outcome.detail !== null && { detail: outcome.detail }),
        ...(attempts !== undefined && { attempts }),
        updatedAt: sql`now()`,
      })
      .where(and(eq(jobRelays.jobId, jobId), eq(jobRelays.relayId, relayId), inArray(jobRelays.state, [...staging])));
    const target: TargetKey = { jobId, kind: 'relay', targetId: relayId };
    await updateTarget(db, target, { state: outcome.state, ...(outcome.detail !== null && { detail: outcome.detail }), attempts });
    if (outcome.state === 'transferring') return;
    const behindRelay = and(
      eq(jobTargets.jobId, jobId),
      eq(jobTargets.kind, 'computer'),
      inArray(jobTargets.targetId, db.select({ id: computers.id }).from(computers).where(eq(computers.relayId, relayId))),
    );
    if (outcome.state === 'failed') {
      await db
        .update(jobTargets)
        .set({ state: 'failed', detail: `its relay could not get the package: ${outcome.detail}`, updatedAt: sql`now()` })
        .where(and(behindRelay, notInArray(jobTargets.state, terminal)));
      return;
    }
    // Computers that waited for this relay now wait only for their turn: their state says so.
    await db
      .update(jobTargets)
      .set({ state: 'pending', detail: 'its relay holds the package; the download starts at its next turn', updatedAt: sql`now()` })
      .where(and(behindRelay, eq(jobTargets.state, 'waiting_for_relay')));
  }

  return {
    /**
     * Lists the relays this job stages its package on, once: a transfer job's relay targets, or the relays
     * in front of an install or offer job's computers. Returns how many there are.
     */
    async prepareJobRelays(jobId: string, purpose: 'install' | 'transfer'): Promise<number> {
      if (purpose === 'transfer') {
        await db.execute(sql`insert into job_relays (job_id, relay_id)
          select ${jobId}::uuid, target_id from job_targets where job_id = ${jobId} and kind = 'relay' on conflict do nothing`);
      } else {
        await listComputersRelays(db, jobId);
      }
      const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(jobRelays).where(eq(jobRelays.jobId, jobId));
      return row?.count ?? 0;
    },

    /** The next page of relays this job is still staging on, after `afterId`. */
    async relayStagingPage(jobId: string, afterId: string | undefined, limit: number): Promise<string[]> {
      const rows = await db
        .select({ relayId: jobRelays.relayId })
        .from(jobRelays)
        .where(and(eq(jobRelays.jobId, jobId), inArray(jobRelays.state, [...staging]), ...(afterId ? [gt(jobRelays.relayId, afterId)] : [])))
        .orderBy(asc(jobRelays.relayId))
        .limit(limit);
      return rows.map((row) => row.relayId);
    },

    /**
     * One attempt to put the package on one relay, unless it already holds a fitting copy. A relay that
     * cannot be reached is left `transferring` for the staging workflow to try again on a timer.
     */
    async stageOnRelay(input: StageOnRelayInput): Promise<AttemptOutcome> {
      const [row] = await db
        .select()
        .from(jobRelays)
        .where(and(eq(jobRelays.jobId, input.jobId), eq(jobRelays.relayId, input.relayId)));
      if (row && !(staging as readonly string[]).includes(row.state)) return 'ended';
      const attempts = (row?.attempts ?? 0) + 1;
      const finish = async (state: 'stored' | 'already_stored' | 'failed', detail: string): Promise<AttemptOutcome> => {
        await recordRelay(input.jobId, input.relayId, { state, detail }, attempts);
        return 'ended';
      };
      const pkg = await findPackage(db, input.packageId);
      const [relay] = await db.select().from(relays).where(eq(relays.id, input.relayId));
      if (!relay || !pkg) return finish('failed', 'the relay or the package no longer exists');

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
      const validUntil = orderValidUntil(clock(), new Date(input.deadline)).toISOString();

      await recordRelay(input.jobId, relay.id, { state: 'transferring', detail: null }, attempts);
      try {
        const status = await followOrder(deps, relay.url, () => ({
          kind: 'store',
          jobId: input.jobId,
          agentId: relay.id,
          issuedAt: clock().toISOString(),
          validUntil,
          package: signedManifestOf(pkg),
          sourceUrl: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`,
          expiresAt: wantedExpiry.toISOString(),
        }));
        if (status.state !== 'stored') {
          return finish('failed', `relay ${relay.name} could not store the package: ${status.detail ?? status.state}`);
        }
        const expiresAt = new Date(status.expiresAt ?? wantedExpiry);
        await recordStoredCopy(deps, { relayId: relay.id, packageId: pkg.id, jobId: input.jobId, expiresAt });
        if (status.bytes === 0) {
          return finish('already_stored', `relay ${relay.name} already held an intact copy until ${expiresAt.toISOString()}`);
        }
        return finish('stored', `stored on relay ${relay.name} until ${expiresAt.toISOString()}`);
      } catch (error) {
        if (error instanceof AgentRefused) return finish('failed', error.message);
        if (!(error instanceof AgentUnreachable)) throw error;
        await recordRelay(input.jobId, relay.id, { state: 'transferring', detail: `${error.message} (${attempts} attempts so far)` }, attempts);
        return 'retry';
      }
    },

    /** Staging on one relay failed unexpectedly (after its bounded retries): it fails with the reason. */
    async failJobRelay(jobId: string, relayId: string, reason: string): Promise<void> {
      await recordRelay(jobId, relayId, { state: 'failed', detail: reason });
    },

    /**
     * The deadline has passed with these relays still without the package: they fail with the last error
     * they gave, and so do the job's computers behind them.
     */
    async settleRelaysAtDeadline(jobId: string, deadline: string): Promise<void> {
      const open = await db
        .select({ relayId: jobRelays.relayId, detail: jobRelays.detail })
        .from(jobRelays)
        .where(and(eq(jobRelays.jobId, jobId), inArray(jobRelays.state, [...staging])));
      for (const relay of open) {
        const detail = `${relay.detail ?? 'the relay never answered'}; gave up at the job's deadline ${deadline}`;
        await recordRelay(jobId, relay.relayId, { state: 'failed', detail });
      }
    },
  };
}
