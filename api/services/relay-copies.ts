/**
 * The managing server's record of relay copies (written by the worker's transfers and expiry timers), as
 * admins see it from a package and from a relay. Each copy shows its own expiry: a PATCH of the package's
 * relayExpiresAt leaves it alone until a transfer job sends the package again.
 */
import { asc, eq, sql, type AnyColumn } from 'drizzle-orm';
import { z } from 'zod';
import { relayCopyStates } from '../../common/states.js';
import { packages, relayCopies, relays } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { timestamp, uuid } from '../view-schemas.js';

type Db = AppDependencies['db'];

/** One relay's copy of a package, seen from the package. */
export const packageCopyViewSchema = z.strictObject({
  relayId: uuid,
  relayName: z.string(),
  state: z.enum(relayCopyStates),
  expiresAt: timestamp,
  storedAt: timestamp,
});

export type PackageCopyView = z.infer<typeof packageCopyViewSchema>;

/** One package's copy on a relay, seen from the relay. */
export const relayCopyViewSchema = z.strictObject({
  packageId: uuid,
  name: z.string(),
  version: z.string(),
  state: z.enum(relayCopyStates),
  expiresAt: timestamp,
});

export type RelayCopyView = z.infer<typeof relayCopyViewSchema>;

/** `column = any($1)`: one array parameter, however many ids a page of relays brings (up to 100,000). */
function anyOf(column: AnyColumn, ids: readonly string[]) {
  return sql`${column} = any(${sql.param([...ids])}::uuid[])`;
}

/** Every key gets a list, so a package or relay without copies shows `[]`. */
function grouped<View>(keys: readonly string[], entries: [string, View][]): Map<string, View[]> {
  const groups = new Map<string, View[]>(keys.map((key) => [key, []]));
  for (const [key, view] of entries) groups.get(key)?.push(view);
  return groups;
}

/** The copies of each of these packages, by relay name. */
export async function copiesOfPackages(db: Db, packageIds: readonly string[]): Promise<Map<string, PackageCopyView[]>> {
  if (packageIds.length === 0) return new Map();
  const rows = await db
    .select({
      packageId: relayCopies.packageId,
      relayId: relayCopies.relayId,
      relayName: relays.name,
      state: relayCopies.state,
      expiresAt: relayCopies.expiresAt,
      storedAt: relayCopies.storedAt,
    })
    .from(relayCopies)
    .innerJoin(relays, eq(relays.id, relayCopies.relayId))
    .where(anyOf(relayCopies.packageId, packageIds))
    .orderBy(asc(relays.name));
  return grouped(
    packageIds,
    rows.map(({ packageId, expiresAt, storedAt, ...copy }): [string, PackageCopyView] => [
      packageId,
      { ...copy, expiresAt: expiresAt.toISOString(), storedAt: storedAt.toISOString() },
    ]),
  );
}

/** The copies on each of these relays, by package name and version. */
export async function copiesOnRelays(db: Db, relayIds: readonly string[]): Promise<Map<string, RelayCopyView[]>> {
  if (relayIds.length === 0) return new Map();
  const rows = await db
    .select({
      relayId: relayCopies.relayId,
      packageId: relayCopies.packageId,
      name: packages.name,
      version: packages.version,
      state: relayCopies.state,
      expiresAt: relayCopies.expiresAt,
    })
    .from(relayCopies)
    .innerJoin(packages, eq(packages.id, relayCopies.packageId))
    .where(anyOf(relayCopies.relayId, relayIds))
    .orderBy(asc(packages.name), asc(packages.version));
  return grouped(
    relayIds,
    rows.map(({ relayId, expiresAt, ...copy }): [string, RelayCopyView] => [
      relayId,
      { ...copy, expiresAt: expiresAt.toISOString() },
    ]),
  );
}
