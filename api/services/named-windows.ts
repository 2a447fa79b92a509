/**
 * Maintenance windows defined once by name (PUT /windows/:name) and named by jobs (`window: "nights"`). A
 * job copies the definition when it is created: redefining or deleting a window changes later jobs only,
 * never one that is running.
 */
import { asc, eq, gt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { windowNameSchema, windowSchema, type MaintenanceWindow } from '../../common/windows.js';
import { maintenanceWindows } from '../../db/schema/index.js';
import { pageOf, type Page } from '../cursor.js';
import type { AppDependencies } from '../dependencies.js';
import { InvalidInput, NotFound } from '../errors.js';
import type { InventoryQuery } from '../list-queries.js';
import { parseInput } from '../validation.js';
import { timestamp } from '../view-schemas.js';

type Db = AppDependencies['db'];

/** A named window as the api shows it. */
export const namedWindowViewSchema = z.strictObject({ name: z.string(), window: windowSchema, updatedAt: timestamp });

export type NamedWindowView = z.infer<typeof namedWindowViewSchema>;

function viewOf(row: typeof maintenanceWindows.$inferSelect): NamedWindowView {
  return { name: row.name, window: row.window, updatedAt: row.updatedAt.toISOString() };
}

/** The name in a route's path, checked as a window name. */
export function windowNameOf(name: string): string {
  return parseInput(windowNameSchema, name, 'window name');
}

/** Defines the window `name`, or replaces its definition; says whether it is new. */
export async function defineWindow(db: Db, name: string, window: MaintenanceWindow): Promise<{ view: NamedWindowView; created: boolean }> {
  const [row] = await db
    .insert(maintenanceWindows)
    .values({ name, window })
    .onConflictDoUpdate({ target: maintenanceWindows.name, set: { window, updatedAt: sql`now()` } })
    // xmax is 0 only for a row this statement inserted: the one way to tell an insert from an update here.
    .returning({ name: maintenanceWindows.name, window: maintenanceWindows.window, updatedAt: maintenanceWindows.updatedAt, inserted: sql<boolean>`xmax = 0` });
  const { inserted, ...defined } = row!;
  return { view: viewOf(defined), created: inserted };
}

/** A page of the named windows, by name. */
export async function listWindows(db: Db, query: InventoryQuery): Promise<Page<NamedWindowView>> {
  const rows = await db
    .select()
    .from(maintenanceWindows)
    .where(query.cursor ? gt(maintenanceWindows.name, query.cursor.name) : undefined)
    .orderBy(asc(maintenanceWindows.name))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => ({ name: row.name }));
  return { items: page.rows.map(viewOf), nextCursor: page.nextCursor };
}

/** Deletes the window `name`; jobs that copied it keep their copy. */
export async function deleteWindow(db: Db, name: string): Promise<NamedWindowView> {
  const [row] = await db.delete(maintenanceWindows).where(eq(maintenanceWindows.name, name)).returning();
  if (!row) throw new NotFound('window_not_found', `no maintenance window named "${name}"`);
  return viewOf(row);
}

/** A job's window as requested: given whole, or by name (400 `unknown_window` for a name nobody defined). */
export async function resolveWindow(db: Db, requested: MaintenanceWindow | string): Promise<{ window: MaintenanceWindow; name: string | null }> {
  if (typeof requested !== 'string') return { window: requested, name: null };
  const [row] = await db.select().from(maintenanceWindows).where(eq(maintenanceWindows.name, requested));
  if (!row) throw new InvalidInput('unknown_window', `no maintenance window named "${requested}": define it with PUT /api/v1/windows/${requested}`);
  return { window: row.window, name: row.name };
}
