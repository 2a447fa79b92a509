/**
 * The managing server's record of relay copies and the workflows that own their expiry. A copy is recorded
 * when a transfer stores it, and marked expired (and deleted on the relay) when its timer fires.
 */
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, lte } from 'drizzle-orm';
import { relayCopyWorkflowId, searchAttributes } from '../common/names.js';
import { copyStoredSignal, relayCopyWorkflowType, type RelayCopyInput } from '../common/workflows.js';
import { relayCopies, relays } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';

export interface StoredCopy {
  relayId: string;
  packageId: string;
  jobId: string;
  expiresAt: Date;
}

/** Records a stored copy and (re)arms its expiry timer; idempotent, so a retried activity may call it again. */
export async function recordStoredCopy(deps: ActivityDependencies, copy: StoredCopy): Promise<void> {
  const values = { state: 'stored' as const, expiresAt: copy.expiresAt, storedAt: deps.clock(), jobId: copy.jobId };
  await deps.db
    .insert(relayCopies)
    .values({ relayId: copy.relayId, packageId: copy.packageId, ...values })
    .onConflictDoUpdate({ target: [relayCopies.relayId, relayCopies.packageId], set: values });
  const expiresAt = copy.expiresAt.toISOString();
  await deps.temporal.workflow.signalWithStart(relayCopyWorkflowType, {
    workflowId: relayCopyWorkflowId(copy.relayId, copy.packageId),
    taskQueue: deps.taskQueue,
    args: [{ relayId: copy.relayId, packageId: copy.packageId, expiresAt } satisfies RelayCopyInput],
    signal: copyStoredSignal,
    signalArgs: [{ expiresAt, jobId: copy.jobId }],
    // Operators find every copy of a package in the UI with CourierPackage = "<packageId>".
    typedSearchAttributes: [{ key: searchAttributes.packageId, value: copy.packageId }],
    staticSummary: `copy of package ${copy.packageId} on relay ${copy.relayId}`,
  });
}

/** What became of a copy whose timer fired: deleted, or kept because a retransfer gave it a later expiry. */
export type CopyExpiry = { result: 'expired' } | { result: 'kept'; expiresAt: string };

/**
 * The expiry a retired package's delete order names: later than any copy's, so the relay deletes whatever
 * copy it holds. No transfer can store a fresh one meanwhile, since no job may use a retired package.
 */
const EVERY_EXPIRY = '9999-12-31T23:59:59.999Z';

export function createRelayCopyActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;

  /** Tells the relay to delete its copy if it expires no later than `expiresAt`; returns the relay's answer. */
  async function deleteOnRelay(relayId: string, packageId: string, expiresAt: string, jobId: string) {
    const [relay] = await db.select().from(relays).where(eq(relays.id, relayId));
    if (!relay) throw ApplicationFailure.nonRetryable(`relay ${relayId} no longer exists`);
    return followOrder(deps, relay.url, () => ({
      kind: 'delete',
      jobId,
      agentId: relay.id,
      issuedAt: clock().toISOString(),
      validUntil: new Date(clock().getTime() + 60 * 60_000).toISOString(),
      packageId,
      expiresAt,
    }));
  }

  return {
    /** The package was retired: the relay deletes its copy now, and the record says so. */
    async retireRelayCopy(input: Pick<RelayCopyInput, 'relayId' | 'packageId'>): Promise<void> {
      await deleteOnRelay(input.relayId, input.packageId, EVERY_EXPIRY, `retire-${input.packageId}`);
      await db
        .update(relayCopies)
        .set({ state: 'deleted' })
        .where(and(eq(relayCopies.relayId, input.relayId), eq(relayCopies.packageId, input.packageId)));
    },
    /**
     * The copy's timer fired for the expiry `input.expiresAt`: record the copy expired, so the next job that
     * needs it transfers it again, then tell the relay to delete it. Both steps name that expiry, so a copy a
     * retransfer has stored meanwhile with a later one is kept, on record and on the relay alike.
     */
    async expireRelayCopy(input: RelayCopyInput): Promise<CopyExpiry> {
      const named = new Date(input.expiresAt);
      const onRecord = and(eq(relayCopies.relayId, input.relayId), eq(relayCopies.packageId, input.packageId));
      await db
        .update(relayCopies)
        .set({ state: 'expired' })
        .where(and(onRecord, eq(relayCopies.state, 'stored'), lte(relayCopies.expiresAt, named)));
      const [copy] = await db.select().from(relayCopies).where(onRecord);
      if (copy?.state === 'stored') return { result: 'kept', expiresAt: copy.expiresAt.toISOString() };

      const status = await deleteOnRelay(input.relayId, input.packageId, input.expiresAt, `expiry-${input.expiresAt}`);
      // The relay kept a copy with a later expiry: a transfer stored it and is about to record it.
      if (status.state === 'stored' && status.expiresAt) return { result: 'kept', expiresAt: status.expiresAt };
      return { result: 'expired' };
    },
  };
}
