/** One PostgreSQL connection pool (postgres.js) wrapped by drizzle, shared by a process's modules. */
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.js';

/** The drizzle handle every repository and service takes. */
export type Database = PostgresJsDatabase<typeof schema>;

/** A database and the way to close its pool at shutdown. */
export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

/** Opens a pool of at most `max` connections (default 10). */
export function connectDatabase(url: string, options: { max?: number } = {}): DatabaseHandle {
  const sql = postgres(url, { max: options.max ?? 10, onnotice: () => undefined });
  return { db: drizzle(sql, { schema }), close: () => sql.end({ timeout: 5 }) };
}
