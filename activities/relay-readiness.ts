/**
 * What every attempt at a computer checks before it sends an order: that the computer and the package still
 * exist, and whether the computer can fetch the package now — served directly by the managing server,
 * behind a relay that holds it for this job, behind one still receiving it (the computer waits, and says
 * so), or behind one that could not get it (the computer fails with the relay's reason).
 */
import { and, eq, exists, inArray, notInArray, sql } from 'drizzle-orm';
import { terminalTargetStates } from '../common/states.js';
import { matchesTarget, updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, type PackageRow } from '../db/repositories/packages.js';
import type { Database } from '../db/client.js';
import { computers, jobRelays, jobTargets, relays } from '../db/schema/index.js';

type ComputerRow = typeof computers.$inferSelect;

export type RelayReadiness =
  | { kind: 'direct' }
  | { kind: 'ready'; relayUrl: string }
  | { kind: 'waiting'; detail: string }
  | { kind: 'failed'; detail: string };

/** Whether `computer` can fetch the job's package now, as far as its relay goes. */
export async function relayReadiness(db: Database, jobId: string, computer: ComputerRow): Promise<RelayReadiness> {
  if (!computer.relayId) return { kind: 'direct' };
  const [row] = await db
    .select({ state: jobRelays.state, detail: jobRelays.detail, name: relays.name, url: relays.url })
    .from(relays)
    .leftJoin(jobRelays, and(eq(jobRelays.relayId, relays.id), eq(jobRelays.jobId, jobId)))
    .where(eq(relays.id, computer.relayId));
  if (!row) return { kind: 'failed', detail: `its relay ${computer.relayId} no longer exists` };
  switch (row.state) {
    case 'stored':
    case 'already_stored':
      return { kind: 'ready', relayUrl: row.url };
    case 'failed':
      return { kind: 'failed', detail: row.detail ?? `relay ${row.name} could not get the package` };
    case null:
      // The computer moved behind this relay after the job started: the job is not staging it there.
      return { kind: 'failed', detail: `its relay ${row.name} is not one this job stages the package on (the computer moved after the job started)` };
    default:
      return { kind: 'waiting', detail: `waiting for relay ${row.name} to receive the package${row.detail ? `: ${row.detail}` : ''}` };
  }
}

/** A computer ready for an order: its row, the package, and where it downloads from (its relay's URL, or none). */
export interface ReadyComputer {
  computer: ComputerRow;
  pkg: PackageRow;
  relayUrl?: string;
}

/**
 * Checks a computer before an order is sent to it. Returns what to send the order with, or, when no order
 * can go out, the attempt's outcome, having recorded why on the target.
 */
export async function readyForOrder(db: Database, target: TargetKey, packageId: string): Promise<ReadyComputer | 'ended' | 'waiting_for_relay'> {
  const [computer] = await db.select().from(computers).where(eq(computers.id, target.targetId));
  const pkg = await findPackage(db, packageId);
  if (!computer || !pkg) {
    await updateTarget(db, target, { state: 'failed', detail: 'the computer or the package no longer exists' });
    return 'ended';
  }
  const relay = await relayReadiness(db, target.jobId, computer);
  if (relay.kind === 'failed') {
    await updateTarget(db, target, { state: 'failed', detail: relay.detail });
    return 'ended';
  }
  if (relay.kind === 'waiting') {
    if (await markWaitingForRelay(db, target, computer.relayId as string, relay.detail)) return 'waiting_for_relay';
    // The relay got the package since we looked: the computer need not wait after all.
    return readyForOrder(db, target, packageId);
  }
  return { computer, pkg, relayUrl: relay.kind === 'ready' ? relay.relayUrl : undefined };
}

/**
 * Marks the computer `waiting_for_relay`, in one statement that holds only while the relay is still
 * receiving the package for this job: a relay that finishes meanwhile moves its waiting computers back to
 * `pending` (relay-staging.ts), and no computer is left reading that it waits for a relay that is ready.
 */
async function markWaitingForRelay(db: Database, target: TargetKey, relayId: string, detail: string): Promise<boolean> {
  const relayStillStaging = db
    .select({ relayId: jobRelays.relayId })
    .from(jobRelays)
    .where(and(eq(jobRelays.jobId, target.jobId), eq(jobRelays.relayId, relayId), inArray(jobRelays.state, ['pending', 'transferring'])));
  const marked = await db
    .update(jobTargets)
    .set({ state: 'waiting_for_relay', detail, updatedAt: sql`now()` })
    .where(and(matchesTarget(target), notInArray(jobTargets.state, [...terminalTargetStates]), exists(relayStillStaging)))
    .returning({ state: jobTargets.state });
  return marked.length > 0;
}
