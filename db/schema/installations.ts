import { pgTable, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { computers } from './agents.js';
import { packages } from './packages.js';

/** What each computer has installed, and through which job. */
export const installations = pgTable(
  'installations',
  {
    computerId: uuid('computer_id')
      .notNull()
      .references(() => computers.id),
    packageId: uuid('package_id')
      .notNull()
      .references(() => packages.id),
    jobId: uuid('job_id').notNull(),
    installedAt: timestamp('installed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.computerId, table.packageId] })],
);
