import { bigint, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { packages } from './packages.js';

/**
 * Bytes the managing server has served of each package to each agent: shows admins that two-stage
 * distribution works (computers behind a relay cost the server nothing) and what a transfer really sent.
 */
export const servedBytes = pgTable(
  'served_bytes',
  {
    packageId: uuid('package_id')
      .notNull()
      .references(() => packages.id),
    agentId: uuid('agent_id').notNull(),
    role: text('role').$type<'relay' | 'computer'>().notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    requests: integer('requests').notNull().default(0),
    lastServedAt: timestamp('last_served_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.packageId, table.agentId] })],
);
