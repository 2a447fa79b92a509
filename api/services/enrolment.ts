/**
 * Agent enrolment: a relay or computer proves it holds the enrolment secret and receives its id, a token
 * of its own and the server's public key. Enrolling again under the same name is how an agent recovers a
 * lost token or moves: the row keeps its id and every earlier token of that agent stops working.
 */
import { eq, sql } from 'drizzle-orm';
import { agentTokens, computers, relays } from '../../db/schema/index.js';
import { hashToken, newToken } from '../../trust/tokens.js';
import type { AppDependencies, Transaction } from '../dependencies.js';
import { InvalidInput } from '../errors.js';
import type { EnrollRequest } from '../validation.js';

/** What the agent is told, plus whether the agent is new (201) or re-enrolled (200). */
export interface Enrolment {
  id: string;
  token: string;
  serverPublicKey: string;
  created: boolean;
}

// `xmax = 0` holds only for a row this very statement inserted, which tells an insert from an update.
const wasInserted = sql<boolean>`(xmax = 0)`;

async function upsertRelay(tx: Transaction, request: EnrollRequest) {
  const [row] = await tx
    .insert(relays)
    .values({ name: request.name, url: request.url })
    .onConflictDoUpdate({ target: relays.name, set: { url: request.url } })
    .returning({ id: relays.id, created: wasInserted });
  return row!;
}

async function upsertComputer(tx: Transaction, request: EnrollRequest) {
  let relayId: string | null = null;
  if (request.relay !== undefined) {
    const [relay] = await tx.select({ id: relays.id }).from(relays).where(eq(relays.name, request.relay));
    if (!relay) {
      throw new InvalidInput('unknown_relay', `no relay named "${request.relay}" is enrolled; enrol the relay first`);
    }
    relayId = relay.id;
  }
  const [row] = await tx
    .insert(computers)
    .values({ name: request.name, url: request.url, relayId })
    .onConflictDoUpdate({ target: computers.name, set: { url: request.url, relayId } })
    .returning({ id: computers.id, created: wasInserted });
  return row!;
}

/** Enrols (or re-enrols) an agent and issues its token, all in one transaction. */
export async function enrollAgent(
  { db, serverKey }: Pick<AppDependencies, 'db' | 'serverKey'>,
  request: EnrollRequest,
): Promise<Enrolment> {
  const token = newToken();
  return db.transaction(async (tx) => {
    const { id, created } = request.role === 'relay' ? await upsertRelay(tx, request) : await upsertComputer(tx, request);
    await tx.delete(agentTokens).where(eq(agentTokens.agentId, id));
    await tx.insert(agentTokens).values({ tokenHash: hashToken(token), role: request.role, agentId: id });
    return { id, created, token, serverPublicKey: serverKey.publicKeyPem };
  });
}
