/** Inventory: the enrolled relays and computers, and what each computer has installed. */
import { z } from 'zod';
import { labelsSchema, type Labels } from '../../common/labels.js';
import { and, asc, desc, eq, gt, gte, isNull, like, not, or, sql } from 'drizzle-orm';
import { computers, installations, packages, relays } from '../../db/schema/index.js';
import { pageOf, type Page } from '../cursor.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import type { ComputersQuery, InventoryQuery } from '../list-queries.js';
import { isUuid } from '../validation.js';
import { timestamp, uuid } from '../view-schemas.js';
import { copiesOnRelays, relayCopyViewSchema } from './relay-copies.js';

type Db = AppDependencies['db'];

/** What an agent's check-ins tell (POST /check-in): when it was last heard of, and what it runs. */
const presenceSchema = z.strictObject({
  lastSeenAt: timestamp.nullable(),
  /** Checked in within the last three check-in intervals. */
  online: z.boolean(),
  agentVersion: z.string().nullable(),
  os: z.string().nullable(),
});

type PresenceView = z.infer<typeof presenceSchema>;

/** Agents heard of since this moment count as online. */
export interface Presence {
  onlineSince: Date;
}

/** An agent is online when it checked in within three of its check-in intervals. */
export function presenceNow(checkInEveryMs: number): Presence {
  return { onlineSince: new Date(Date.now() - 3 * checkInEveryMs) };
}

function presenceView(row: { lastSeenAt: Date | null; agentVersion: string | null; os: string | null }, presence: Presence): PresenceView {
  return {
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    online: row.lastSeenAt !== null && row.lastSeenAt >= presence.onlineSince,
    agentVersion: row.agentVersion,
    os: row.os,
  };
}

/** A relay as GET /relays lists it. */
export const relayViewSchema = z.strictObject({
  id: uuid,
  name: z.string(),
  url: z.string(),
  enrolledAt: timestamp,
  /** Bytes per second over the relay's link; null is no limit. */
  bandwidthLimit: z.number().int().positive().nullable(),
  /** How many computers this relay serves. */
  computers: z.number().int().nonnegative(),
  /** The packages the managing server records on this relay, each with the copy's own expiry. */
  copies: z.array(relayCopyViewSchema),
  ...presenceSchema.shape,
});

export type RelayView = z.infer<typeof relayViewSchema>;

/** A computer as GET /computers lists it; `relay` null when the managing server serves it directly. */
export const computerViewSchema = z.strictObject({
  id: uuid,
  name: z.string(),
  url: z.string(),
  relay: z.strictObject({ id: uuid, name: z.string() }).nullable(),
  enrolledAt: timestamp,
  labels: labelsSchema,
  ...presenceSchema.shape,
});

export type ComputerView = z.infer<typeof computerViewSchema>;

/** One package a computer has installed, and the job that installed it. */
const installedPackageViewSchema = z.strictObject({
  packageId: uuid,
  name: z.string(),
  version: z.string(),
  jobId: uuid,
  installedAt: timestamp,
});

/** GET /computers/:id: the computer and what it has installed. */
export const computerDetailViewSchema = computerViewSchema.extend({ installed: z.array(installedPackageViewSchema) });

export type ComputerDetailView = z.infer<typeof computerDetailViewSchema>;

/** How many computers each of `relayIds` serves; only the page's relays are counted. */
async function computersUnder(db: Db, relayIds: string[]): Promise<Map<string, number>> {
  if (relayIds.length === 0) return new Map();
  const rows = await db
    .select({ relayId: computers.relayId, count: sql<number>`count(*)::int` })
    .from(computers)
    .where(sql`${computers.relayId} = any(${sql.param(relayIds)}::uuid[])`)
    .groupBy(computers.relayId);
  return new Map(rows.map((row) => [row.relayId!, row.count]));
}

const relayColumns = {
  id: relays.id,
  name: relays.name,
  url: relays.url,
  enrolledAt: relays.enrolledAt,
  bandwidthLimit: relays.bandwidthLimit,
  lastSeenAt: relays.lastSeenAt,
  agentVersion: relays.agentVersion,
  os: relays.os,
};

type RelayRow = { [Column in keyof typeof relayColumns]: (typeof relays.$inferSelect)[Column] };

/** The relays' views, with the number of computers below each and its package copies. */
async function relayViews(db: Db, rows: RelayRow[], presence: Presence): Promise<RelayView[]> {
  const ids = rows.map((row) => row.id);
  const counts = await computersUnder(db, ids);
  const copies = await copiesOnRelays(db, ids);
  return rows.map(({ lastSeenAt, agentVersion, os, ...row }) => ({
    ...row,
    ...presenceView({ lastSeenAt, agentVersion, os }, presence),
    enrolledAt: row.enrolledAt.toISOString(),
    computers: counts.get(row.id) ?? 0,
    copies: copies.get(row.id) ?? [],
  }));
}

/** Relays by name. */
export async function listRelays(db: Db, query: InventoryQuery, presence: Presence): Promise<Page<RelayView>> {
  const rows = await db
    .select(relayColumns)
    .from(relays)
    .where(query.cursor ? gt(relays.name, query.cursor.name) : undefined)
    .orderBy(asc(relays.name))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => ({ name: row.name }));
  return { items: await relayViews(db, page.rows, presence), nextCursor: page.nextCursor };
}

/** One relay, found by id or by name. */
export async function getRelay(db: Db, idOrName: string, presence: Presence): Promise<RelayView> {
  const rows = await db.select(relayColumns).from(relays).where(named(relays, idOrName));
  if (rows.length === 0) throw new NotFound('relay_not_found', `no relay ${idOrName}`);
  return (await relayViews(db, rows, presence))[0]!;
}

const computerColumns = {
  id: computers.id,
  name: computers.name,
  url: computers.url,
  enrolledAt: computers.enrolledAt,
  labels: computers.labels,
  lastSeenAt: computers.lastSeenAt,
  agentVersion: computers.agentVersion,
  os: computers.os,
  relayId: relays.id,
  relayName: relays.name,
};

interface ComputerRow {
  id: string;
  name: string;
  url: string;
  enrolledAt: Date;
  labels: Labels;
  lastSeenAt: Date | null;
  agentVersion: string | null;
  os: string | null;
  relayId: string | null;
  relayName: string | null;
}

function computerView(row: ComputerRow, presence: Presence): ComputerView {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    relay: row.relayId !== null && row.relayName !== null ? { id: row.relayId, name: row.relayName } : null,
    enrolledAt: row.enrolledAt.toISOString(),
    labels: row.labels,
    ...presenceView(row, presence),
  };
}

/** The row of `table` that `idOrName` names: by id or name for a UUID (a name may not be one), else by name. */
function named(table: typeof computers | typeof relays, idOrName: string) {
  return isUuid(idOrName) ? or(eq(table.id, idOrName), eq(table.name, idOrName)) : eq(table.name, idOrName);
}

/** The id of the relay or computer `idOrName` names; 404 `<role>_not_found` when none does. */
async function agentIdOf(db: Db, role: 'relay' | 'computer', idOrName: string): Promise<string> {
  const table = role === 'relay' ? relays : computers;
  const [row] = await db.select({ id: table.id }).from(table).where(named(table, idOrName));
  if (!row) throw new NotFound(`${role}_not_found`, `no ${role} ${idOrName}`);
  return row.id;
}

/** `text` matched literally at the start of a LIKE pattern: its wildcards and the escape character escaped. */
function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/** Computers online (checked in since `presence.onlineSince`) or not. */
function onlineIs(online: boolean, presence: Presence) {
  const seen = gte(computers.lastSeenAt, presence.onlineSince);
  return online ? seen : or(isNull(computers.lastSeenAt), not(seen));
}

/** Computers by name, with the relay that serves each; filtered as the query asks. */
export async function listComputers(db: Db, query: ComputersQuery, presence: Presence): Promise<Page<ComputerView>> {
  const relayId = query.relay === undefined ? undefined : await agentIdOf(db, 'relay', query.relay);
  const rows = await db
    .select(computerColumns)
    .from(computers)
    .leftJoin(relays, eq(computers.relayId, relays.id))
    .where(
      and(
        query.cursor ? gt(computers.name, query.cursor.name) : undefined,
        relayId ? eq(computers.relayId, relayId) : undefined,
        query.prefix ? like(computers.name, likePrefix(query.prefix)) : undefined,
        query.online === undefined ? undefined : onlineIs(query.online, presence),
        query.label ? sql`${computers.labels} @> ${JSON.stringify(query.label)}::jsonb` : undefined,
      ),
    )
    .orderBy(asc(computers.name))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => ({ name: row.name }));
  return { items: page.rows.map((row) => computerView(row, presence)), nextCursor: page.nextCursor };
}

/** The id of the relay `idOrName` names; 404 when none does. */
export function relayIdOf(db: Db, idOrName: string): Promise<string> {
  return agentIdOf(db, 'relay', idOrName);
}

/** The id of the computer `idOrName` names; 404 when none does. */
export function computerIdOf(db: Db, idOrName: string): Promise<string> {
  return agentIdOf(db, 'computer', idOrName);
}

/** One computer, found by id or by name, with what it has installed (newest first). */
export async function getComputer(db: Db, idOrName: string, presence: Presence): Promise<ComputerDetailView> {
  const [row] = await db
    .select(computerColumns)
    .from(computers)
    .leftJoin(relays, eq(computers.relayId, relays.id))
    .where(named(computers, idOrName));
  if (!row) throw new NotFound('computer_not_found', `no computer ${idOrName}`);
  const installed = await db
    .select({
      packageId: installations.packageId,
      name: packages.name,
      version: packages.version,
      jobId: installations.jobId,
      installedAt: installations.installedAt,
    })
    .from(installations)
    .innerJoin(packages, eq(packages.id, installations.packageId))
    .where(eq(installations.computerId, row.id))
    .orderBy(desc(installations.installedAt));
  return {
    ...computerView(row, presence),
    installed: installed.map((item) => ({ ...item, installedAt: item.installedAt.toISOString() })),
  };
}
