import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { Labels } from '../../common/labels.js';

/** What every agent's row records of its check-ins (POST /check-in): when it was last heard of, and what it runs. */
const presence = {
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
  agentVersion: text('agent_version'),
  os: text('os'),
};

/** Relay systems: caches between the managing server and the computers below them. */
export const relays = pgTable('relays', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  url: text('url').notNull(),
  enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
  /** Bytes per second over the relay's link (its fetches from the server, its computers' downloads); null is no limit. */
  bandwidthLimit: bigint('bandwidth_limit', { mode: 'number' }),
  ...presence,
});

/** Managed computers; `relayId` null means the managing server serves them directly. */
export const computers = pgTable(
  'computers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique(),
    url: text('url').notNull(),
    relayId: uuid('relay_id').references(() => relays.id),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
    /** `key=value` pairs jobs and lists select computers by (common/labels.ts). */
    labels: jsonb('labels').$type<Labels>().notNull().default({}),
    ...presence,
  },
  // jsonb_path_ops: the smaller GIN index, and all a `labels @> {...}` containment query needs.
  (table) => [index('computers_relay').on(table.relayId), index('computers_labels').using('gin', table.labels.op('jsonb_path_ops'))],
);

/** Agent tokens, stored only as their SHA-256; one live token per agent, replaced at re-enrolment. */
export const agentTokens = pgTable(
  'agent_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    role: text('role').$type<'relay' | 'computer'>().notNull(),
    agentId: uuid('agent_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('agent_tokens_agent').on(table.agentId)],
);
