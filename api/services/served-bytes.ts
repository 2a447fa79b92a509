/**
 * Bytes the managing server has served of each package to each agent. The content route measures what it
 * sends and reports it here once the response has closed; admin downloads are not counted. The numbers
 * show whether two-stage distribution works: computers behind a relay should cost the server nothing.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { targetKinds } from '../../common/states.js';
import { computers, relays, servedBytes } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { timestamp, uuid } from '../view-schemas.js';

type Db = AppDependencies['db'];

/** One response's worth of served content. */
export interface ServedContent {
  packageId: string;
  agentId: string;
  role: 'relay' | 'computer';
  bytes: number;
}

/** What one agent has been served of a package; `name` is null when the agent is no longer enrolled. */
export const servedBytesViewSchema = z.strictObject({
  kind: z.enum(targetKinds),
  id: uuid,
  name: z.string().nullable(),
  bytes: z.number().int().nonnegative(),
  requests: z.number().int().nonnegative(),
  lastServedAt: timestamp,
});

export type ServedBytesView = z.infer<typeof servedBytesViewSchema>;

/** Adds one response to the package's and agent's totals; a response that sent no content is not one. */
export async function recordServedBytes(db: Db, served: ServedContent): Promise<void> {
  if (served.bytes <= 0) return;
  await db
    .insert(servedBytes)
    .values({ ...served, requests: 1, lastServedAt: sql`now()` })
    .onConflictDoUpdate({
      target: [servedBytes.packageId, servedBytes.agentId],
      set: {
        bytes: sql`${servedBytes.bytes} + excluded.bytes`,
        requests: sql`${servedBytes.requests} + 1`,
        lastServedAt: sql`now()`,
        role: served.role,
      },
    });
}

/** Every agent served some of the package, most bytes first. */
export async function servedBytesOf(db: Db, packageId: string): Promise<ServedBytesView[]> {
  const rows = await db
    .select({
      kind: servedBytes.role,
      id: servedBytes.agentId,
      name: sql<string | null>`coalesce(${relays.name}, ${computers.name})`,
      bytes: servedBytes.bytes,
      requests: servedBytes.requests,
      lastServedAt: servedBytes.lastServedAt,
    })
    .from(servedBytes)
    .leftJoin(relays, and(eq(servedBytes.role, 'relay'), eq(relays.id, servedBytes.agentId)))
    .leftJoin(computers, and(eq(servedBytes.role, 'computer'), eq(computers.id, servedBytes.agentId)))
    .where(eq(servedBytes.packageId, packageId))
    .orderBy(desc(servedBytes.bytes), servedBytes.agentId);
  return rows.map((row) => ({ ...row, lastServedAt: row.lastServedAt.toISOString() }));
}
