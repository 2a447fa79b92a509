/** Inventory: the enrolled relays and computers, and what each computer has installed. */
import { desc, eq, or, sql } from 'drizzle-orm';
import { computers, installations, packages, relays } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import { isUuid } from '../validation.js';
import { copiesOnRelays, type RelayCopyView } from './relay-copies.js';

type Db = AppDependencies['db'];

/** A relay as GET /relays lists it. */
export interface RelayView {
  id: string;
  name: string;
  url: string;
  enrolledAt: string;
  /** How many computers this relay serves. */
  computers: number;
  /** The packages the managing server records on this relay, each with the copy's own expiry. */
  copies: RelayCopyView[];
}

/** A computer as GET /computers lists it; `relay` null when the managing server serves it directly. */
export interface ComputerView {
  id: string;
  name: string;
  url: string;
  relay: { id: string; name: string } | null;
  enrolledAt: string;
}

/** One package a computer has installed, and the job that installed it. */
export interface InstalledPackageView {
  packageId: string;
  name: string;
  version: string;
  jobId: string;
  installedAt: string;
}

/** GET /computers/:id: the computer and what it has installed. */
export interface ComputerDetailView extends ComputerView {
  installed: InstalledPackageView[];
}

/** Offset pagination, as the list query parameters give it. */
export interface Page {
  limit: number;
  offset: number;
}

/** Every relay with the number of computers below it and its package copies, by name. */
export async function listRelays(db: Db, page: Page): Promise<RelayView[]> {
  const rows = await db
    .select({
      id: relays.id,
      name: relays.name,
      url: relays.url,
      enrolledAt: relays.enrolledAt,
      computers: sql<number>`count(${computers.id})::int`,
    })
    .from(relays)
    .leftJoin(computers, eq(computers.relayId, relays.id))
    .groupBy(relays.id)
    .orderBy(relays.name)
    .limit(page.limit)
    .offset(page.offset);
  const copies = await copiesOnRelays(db, rows.map((row) => row.id));
  return rows.map((row) => ({ ...row, enrolledAt: row.enrolledAt.toISOString(), copies: copies.get(row.id) ?? [] }));
}

const computerColumns = {
  id: computers.id,
  name: computers.name,
  url: computers.url,
  enrolledAt: computers.enrolledAt,
  relayId: relays.id,
  relayName: relays.name,
};

interface ComputerRow {
  id: string;
  name: string;
  url: string;
  enrolledAt: Date;
  relayId: string | null;
  relayName: string | null;
}

function computerView(row: ComputerRow): ComputerView {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    relay: row.relayId !== null && row.relayName !== null ? { id: row.relayId, name: row.relayName } : null,
    enrolledAt: row.enrolledAt.toISOString(),
  };
}

/** Computers by name, with the relay that serves each. */
export async function listComputers(db: Db, page: Page): Promise<ComputerView[]> {
  const rows = await db
    .select(computerColumns)
    .from(computers)
    .leftJoin(relays, eq(computers.relayId, relays.id))
    .orderBy(computers.name)
    .limit(page.limit)
    .offset(page.offset);
  return rows.map(computerView);
}

/** One computer, found by id or by name, with what it has installed (newest first). */
export async function getComputer(db: Db, idOrName: string): Promise<ComputerDetailView> {
  const [row] = await db
    .select(computerColumns)
    .from(computers)
    .leftJoin(relays, eq(computers.relayId, relays.id))
    .where(
      isUuid(idOrName) ? or(eq(computers.id, idOrName), eq(computers.name, idOrName)) : eq(computers.name, idOrName),
    );
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
    ...computerView(row),
    installed: installed.map((item) => ({ ...item, installedAt: item.installedAt.toISOString() })),
  };
}
