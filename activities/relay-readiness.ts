/**
 * Whether the computers behind a relay can fetch the job's package now: from a relay that holds it for
 * this job, or not yet (the computer waits, and says so), or never (the computer fails with the relay's
 * reason). Asked for all of a batch's relays at once.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { jobRelays, jobTargets, relays } from '../db/schema/index.js';

export type RelayReadiness =
  /** `relayUrl` null: the computer has no relay; the managing server serves it. */
  | { kind: 'ready'; relayUrl: string | null }
  | { kind: 'waiting'; detail: string }
  | { kind: 'failed'; detail: string };

/** The readiness of each of `relayIds` for the job, in one query. */
export async function relaysReadiness(db: Database, jobId: string, relayIds: readonly string[]): Promise<Map<string, RelayReadiness>> {
  const readiness = new Map<string, RelayReadiness>();
  if (relayIds.length === 0) return readiness;
  const rows = await db
    .select({ id: relays.id, state: jobRelays.state, detail: jobRelays.detail, name: relays.name, url: relays.url })
    .from(relays)
    .leftJoin(jobRelays, and(eq(jobRelays.relayId, relays.id), eq(jobRelays.jobId, jobId)))
    .where(inArray(relays.id, [...relayIds]));
  for (const relayId of relayIds) readiness.set(relayId, { kind: 'failed', detail: `its relay ${relayId} no longer exists` });
  // The job's relays are listed in one statement by its staging workflow, which starts with the batches:
  // a batch may look before that statement has run. No relay listed at all means "not yet", not "not ours".
  const listed = rows.some((row) => row.state !== null) || (await jobRelaysListed(db, jobId));
  for (const row of rows) readiness.set(row.id, readinessOf(row, listed));
  return readiness;
}

/** Whether the job's relays have been listed (prepareJobRelays in relay-staging.ts inserts them all at once). */
async function jobRelaysListed(db: Database, jobId: string): Promise<boolean> {
  const rows = await db.select({ one: sql`1` }).from(jobRelays).where(eq(jobRelays.jobId, jobId)).limit(1);
  return rows.length > 0;
}

function readinessOf(row: { state: string | null; detail: string | null; name: string; url: string }, listed: boolean): RelayReadiness {
  switch (row.state) {
    case 'stored':
    case 'already_stored':
      return { kind: 'ready', relayUrl: row.url };
    case 'failed':
      return { kind: 'failed', detail: row.detail ?? `relay ${row.name} could not get the package` };
    case null:
      if (!listed) return { kind: 'waiting', detail: `waiting for the job to list its relays, ${row.name} among them` };
      // The computer moved behind this relay after the job started: the job is not staging it there.
      return { kind: 'failed', detail: `its relay ${row.name} is not one this job stages the package on (the computer moved after the job started)` };
    default:
      return { kind: 'waiting', detail: `waiting for relay ${row.name} to receive the package${row.detail ? `: ${row.detail}` : ''}` };
  }
}

/**
 * Marks computers `waiting_for_relay`, in one statement that holds only while the relay is still
 * receiving the package for this job: a relay that finishes meanwhile moves its waiting computers back to
 * `pending` (relay-staging.ts), and no computer is left reading that it waits for a relay that is ready.
 * Returns how many were marked; the others are simply tried again at the batch's next look.
 */
export async function markWaitingForRelay(
  db: Database,
  jobId: string,
  relayId: string,
  computerIds: readonly string[],
  detail: string,
): Promise<number> {
  const marked = await db
    .update(jobTargets)
    .set({ state: 'waiting_for_relay', detail, updatedAt: sql`now()` })
    .where(
      and(
        eq(jobTargets.jobId, jobId),
        eq(jobTargets.kind, 'computer'),
        inArray(jobTargets.targetId, [...computerIds]),
        inArray(jobTargets.state, ['pending', 'waiting_for_relay']),
        sql`exists (select 1 from ${jobRelays} where ${jobRelays.jobId} = ${jobId} and ${jobRelays.relayId} = ${relayId}
          and ${jobRelays.state} in ('pending', 'transferring'))`,
      ),
    )
    .returning({ targetId: jobTargets.targetId });
  return marked.length;
}
