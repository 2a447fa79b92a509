import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { MaintenanceWindow } from '../../common/windows.js';

/**
 * Maintenance windows defined once by name (PUT /windows/:name), for jobs to name instead of spelling a
 * window out. A job copies the definition when it is created, so a later change applies to later jobs.
 */
export const maintenanceWindows = pgTable('maintenance_windows', {
  name: text('name').primaryKey(),
  window: jsonb('window').$type<MaintenanceWindow>().notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
