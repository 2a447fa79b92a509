/**
 * Admins set a relay's bandwidth limit (PATCH /relays/:id). The managing server paces what it sends the
 * relay by it at once; the relay paces what it serves its computers by it from its next check-in.
 */
import { eq } from 'drizzle-orm';
import { relays } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import type { RelayPatch } from '../validation.js';
import { getRelay, relayIdOf, type Presence, type RelayView } from './inventory.js';

type Db = AppDependencies['db'];

/** Sets the relay's bandwidth limit; answers the relay as GET /relays lists it. */
export async function patchRelay(db: Db, idOrName: string, patch: RelayPatch, presence: Presence): Promise<RelayView> {
  const id = await relayIdOf(db, idOrName);
  await db.update(relays).set({ bandwidthLimit: patch.bandwidthLimit }).where(eq(relays.id, id));
  return getRelay(db, id, presence);
}

/** The relay's bandwidth limit, read at each of its downloads so a change applies to the next one. */
export async function relayBandwidthLimit(db: Db, relayId: string): Promise<number | null> {
  const [row] = await db.select({ bandwidthLimit: relays.bandwidthLimit }).from(relays).where(eq(relays.id, relayId));
  return row?.bandwidthLimit ?? null;
}
