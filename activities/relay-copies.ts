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

export function createRelayCopyActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;
  return {
    /**
     * The copy's timer fired: record it expired, so the next job that needs it transfers it again, then
     * tell the relay to delete it. A copy whose expiry a retransfer has moved meanwhile is left alone.
     */
    async expireRelayCopy(input: RelayCopyInput): Promise<'expired' | 'kept'> {
      const now = clock();
      const expired = await db
        .update(relayCopies)
        .set({ state: 'expired' })
        .where(
          and(
            eq(relayCopies.relayId, input.relayId),
            eq(relayCopies.packageId, input.packageId),
            lte(relayCopies.expiresAt, now),
          ),
        )
        .returning();
      if (expired.length === 0) {
        const [copy] = await db
          .select()
          .from(relayCopies)
          .where(and(eq(relayCopies.relayId, input.relayId), eq(relayCopies.packageId, input.packageId)));
        if (copy?.state === 'stored') return 'kept';
      }
      const [relay] = await db.select().from(relays).where(eq(relays.id, input.relayId));
      if (!relay) throw ApplicationFailure.nonRetryable(`relay ${input.relayId} no longer exists`);
      await followOrder(deps, relay.url, () => ({
        kind: 'delete',
        jobId: `expiry-${input.expiresAt}`,
        agentId: relay.id,
        issuedAt: clock().toISOString(),
        packageId: input.packageId,
      }));
      return 'expired';
    },
  };
}
