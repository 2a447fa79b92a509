/** One PostgreSQL connection pool (postgres.js) wrapped by drizzle, shared by a process's modules. */
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Database = PostgresJsDatabase<typeof schema>;

export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

export function connectDatabase(url: string, options: { max?: number } = {}): DatabaseHandle {
  const sql = postgres(url, { max: options.max ?? 10, onnotice: () => undefined });
  return { db: drizzle(sql, { schema }), close: () => sql.end({ timeout: 5 }) };
}
