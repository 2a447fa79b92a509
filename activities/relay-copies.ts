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

export function createRelayCopyActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;
  return {
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

      const [relay] = await db.select().from(relays).where(eq(relays.id, input.relayId));
      if (!relay) throw ApplicationFailure.nonRetryable(`relay ${input.relayId} no longer exists`);
      const status = await followOrder(deps, relay.url, () => ({
        kind: 'delete',
        jobId: `expiry-${input.expiresAt}`,
        agentId: relay.id,
        issuedAt: clock().toISOString(),
        validUntil: new Date(clock().getTime() + 60 * 60_000).toISOString(),
        packageId: input.packageId,
        expiresAt: input.expiresAt,
      }));
      // The relay kept a copy with a later expiry: a transfer stored it and is about to record it.
      if (status.state === 'stored' && status.expiresAt) return { result: 'kept', expiresAt: status.expiresAt };
      return { result: 'expired' };
    },
  };
}
