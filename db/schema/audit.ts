import { sql } from 'drizzle-orm';
import { bigint, boolean, check, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * What admins did and who enrolled (DESIGN §7 "Identity"): one row per attempt that proved its credential,
 * with its outcome, written before the caller hears the answer. Rows are only ever added.
 */
export const auditLog = pgTable('audit_log', {
  // Identity order is insertion order, which is the order GET /audit pages by (newest first).
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  /** `admin`, `enroll-secret`, or the agent (`computer:<id>`, `relay:<id>`) whose token came with an enrolment. */
  actor: text('actor').notNull(),
  /** What was attempted: `job.create`, `agent.enrol`, `enroll-secret.rotate`, … (api/audit.ts). */
  action: text('action').notNull(),
  /** What it was done to (`job:<id>`, `computer:<name>`, …); null when a refusal came before it was known. */
  subject: text('subject'),
  /** `ok`, or the error code the caller was answered with. */
  outcome: text('outcome').notNull(),
  /** The caller's address, as express sees it. */
  address: text('address'),
});

/**
 * The enrolment secret once an admin has rotated it, stored as its SHA-256 like agent tokens. One row at
 * most: until the first rotation, COURIER_ENROLL_SECRET is the secret; afterwards only this one is.
 */
export const enrollSecret = pgTable(
  'enroll_secret',
  {
    singleton: boolean('singleton').primaryKey().default(true),
    secretHash: text('secret_hash').notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [check('enroll_secret_one_row', sql`${table.singleton}`)],
);
