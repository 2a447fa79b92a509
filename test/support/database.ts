/** A fresh, migrated PostgreSQL database per test file, dropped afterwards. */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectDatabase, type Database } from '../../db/client.js';
import { migrateDatabase } from '../../db/migrate.js';

const baseUrl = process.env.COURIER_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  db: Database;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `courier_test_${randomBytes(6).toString('hex')}`;
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  await migrateDatabase(url.toString());
  const handle = connectDatabase(url.toString(), { max: 5 });
  return {
    url: url.toString(),
    db: handle.db,
    async drop() {
      await handle.close();
      const admin = postgres(baseUrl, { max: 1, onnotice: () => undefined });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}
