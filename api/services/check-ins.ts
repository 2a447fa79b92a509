/**
 * Agents' check-ins (POST /check-in): every few minutes an agent says where it is and what it runs. The
 * row keeps its URL current (a laptop that changed address is reached at the new one by the next order),
 * and when it was last heard of, which makes it `online` (api/services/inventory.ts). The answer tells the
 * agent when to check in next, so the interval is the managing server's to set.
 */
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { computers, relays } from '../../db/schema/index.js';
import type { AgentCaller } from '../auth.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import type { CheckIn } from '../validation.js';
import { uuid } from '../view-schemas.js';

/** What a check-in answers. */
export const checkInAnswerSchema = z.strictObject({
  id: uuid,
  checkInEveryMs: z.number().int().positive(),
  /** Relays: bytes per second to serve their computers at, all together (PATCH /relays/:id); null is no limit. */
  bandwidthLimit: z.number().int().positive().nullable(),
});

export type CheckInAnswer = z.infer<typeof checkInAnswerSchema>;

export async function checkIn({ db, config }: Pick<AppDependencies, 'db' | 'config'>, caller: AgentCaller, report: CheckIn): Promise<CheckInAnswer> {
  const seen = { url: report.url, agentVersion: report.agentVersion, os: report.os, lastSeenAt: sql`now()` };
  const [row] =
    caller.role === 'relay'
      ? await db.update(relays).set(seen).where(eq(relays.id, caller.agentId)).returning({ id: relays.id, bandwidthLimit: relays.bandwidthLimit })
      : await db.update(computers).set(seen).where(eq(computers.id, caller.agentId)).returning({ id: computers.id, bandwidthLimit: sql<null>`null` });
  // A token outlives its agent's row only between a reset and the agent's next enrolment.
  if (!row) throw new NotFound(`${caller.role}_not_found`, `no ${caller.role} ${caller.agentId}`);
  return { id: row.id, checkInEveryMs: config.checkInEveryMs, bandwidthLimit: row.bandwidthLimit };
}
