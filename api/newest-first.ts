/**
 * Lists read newest first (jobs, packages) page by `(createdAt, id)`: the cursor keeps the row's creation
 * time to the microsecond (cursor.ts timestampKey), and the next page starts strictly before that key.
 */
import { sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/** The key of a newest-first list, as its cursor holds it. */
export interface CreatedKey {
  createdAt: string;
  id: string;
}

/**
 * A timestamptz to the microsecond, in UTC, as a cursor keeps it: `createdAt` read as a Date would lose the
 * microseconds the keyset compares.
 */
export function exactTimestamp(column: AnyPgColumn) {
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Rows after the cursor's row in newest-first order; every row when there is no cursor. */
export function olderThan(createdAt: AnyPgColumn, id: AnyPgColumn, after: CreatedKey | undefined) {
  return after ? sql`(${createdAt}, ${id}) < (${after.createdAt}::timestamptz, ${after.id}::uuid)` : undefined;
}
