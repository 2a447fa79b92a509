import type { RelayCopyState } from '../../common/states.js';
import { pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { packages } from './packages.js';
import { relays } from './agents.js';


/** Which relay holds which package until when: the managing server's record of every relay copy. */
export const relayCopies = pgTable(
  'relay_copies',
  {
    relayId: uuid('relay_id')
      .notNull()
      .references(() => relays.id),
    packageId: uuid('package_id')
      .notNull()
      .references(() => packages.id),
    state: text('state').$type<RelayCopyState>().notNull(),
    /** The expiry the relay holds for this copy: the package's date when it was last transferred. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    storedAt: timestamp('stored_at', { withTimezone: true }).notNull(),
    /** The job whose transfer produced this copy. */
    jobId: uuid('job_id'),
  },
  (table) => [primaryKey({ columns: [table.relayId, table.packageId] })],
);
