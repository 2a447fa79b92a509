import { bigint, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { InstallConditions } from '../../common/conditions.js';
import type { PackageFormat } from '../../common/manifest.js';

/** Immutable software payloads; the content lives in the content-addressed store under its SHA-256. */
export const packages = pgTable(
  'packages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    sha256: text('sha256').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    format: text('format').$type<PackageFormat>().notNull(),
    fileName: text('file_name').notNull(),
    installCommand: text('install_command').notNull(),
    timeoutSeconds: integer('timeout_seconds').notNull(),
    conditions: jsonb('conditions').$type<InstallConditions>().notNull(),
    /** Ed25519 signature (base64) over the canonical manifest. */
    manifestSignature: text('manifest_signature').notNull(),
    relayExpiresAt: timestamp('relay_expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When an admin retired the package (DELETE /packages/:id): no job may use it from then on. */
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (table) => [uniqueIndex('packages_name_version').on(table.name, table.version)],
);
