/**
 * Agent identity (DESIGN §7 "Identity"). A relay or computer proves it holds the enrolment secret and
 * receives its id, a token of its own and the server's public key. A name is an identity: enrolling again
 * under a name that holds a live token needs that token too (`X-Courier-Agent-Token`), so the fleet-wide
 * secret alone cannot take over another agent's orders, offers or downloads. An admin's reset revokes an
 * agent's tokens, after which the name may be enrolled afresh. Re-enrolling keeps the row's id and replaces
 * the token. An agent names the signing key it trusts, so a server whose key changed refuses it before
 * replacing the token the agent will need once it is told of the new key.
 */
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { agentTokens, computers, enrollSecret, relays } from '../../db/schema/index.js';
import { hashToken, newToken, secretsEqual } from '../../trust/tokens.js';
import type { AppDependencies, Transaction } from '../dependencies.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { isUuid, type EnrollRequest } from '../validation.js';
import { timestamp, uuid } from '../view-schemas.js';

/** An agent role, as enrolment and the reset routes name it. */
export type AgentRole = EnrollRequest['role'];

/** What an enrolled agent is told: its id, its token (shown once) and the key the server signs manifests with. */
export const enrolmentAnswerSchema = z.strictObject({ id: uuid, token: z.string(), serverPublicKey: z.string() });

/** The answer, plus whether the agent is new (201) or re-enrolled (200) and whether its token proved it. */
export type Enrolment = z.infer<typeof enrolmentAnswerSchema> & { created: boolean; provedByToken: boolean };

const tables = { relay: relays, computer: computers } as const;

/** The computer's relay id from its name, or null for a computer the managing server serves. */
async function relayIdOf(tx: Transaction, request: EnrollRequest): Promise<string | null> {
  if (request.relay === undefined) return null;
  const [relay] = await tx.select({ id: relays.id }).from(relays).where(eq(relays.name, request.relay));
  if (!relay) throw new InvalidInput('unknown_relay', `no relay named "${request.relay}" is enrolled; enrol the relay first`);
  return relay.id;
}

/**
 * Refuses to re-enrol `agentId` unless `presentedToken` is one of its live tokens, and says whether it was.
 * An agent without any (reset by an admin) may enrol afresh: nothing is proved then, whatever it sent.
 */
async function requireOwnToken(tx: Transaction, request: EnrollRequest, agentId: string, presentedToken: string | undefined): Promise<boolean> {
  const live = await tx.select({ tokenHash: agentTokens.tokenHash }).from(agentTokens).where(eq(agentTokens.agentId, agentId));
  if (live.length === 0) return false;
  const presentedHash = presentedToken === undefined ? undefined : hashToken(presentedToken);
  if (presentedHash !== undefined && live.some(({ tokenHash }) => secretsEqual(presentedHash, tokenHash))) return true;
  throw new Conflict(
    'already_enrolled',
    `a ${request.role} named "${request.name}" is already enrolled: enrolling again needs its current token in ` +
      `X-Courier-Agent-Token, or an admin's reset (POST /api/v1/${request.role}s/${agentId}/reset)`,
  );
}

/**
 * Enrols (or re-enrols) an agent and issues its token, all in one transaction. The row is locked while its
 * tokens are checked, so two enrolments of one name cannot both pass on the same token.
 */
export async function enrollAgent(
  { db, serverKey }: Pick<AppDependencies, 'db' | 'serverKey'>,
  request: EnrollRequest,
  presentedToken: string | undefined,
): Promise<Enrolment> {
  if (request.serverKeyId !== undefined && request.serverKeyId !== serverKey.keyId) {
    // Refused before anything changes: the agent keeps the token it holds for when it is told of the new key.
    throw new Conflict(
      'server_key_changed',
      `this server signs with key ${serverKey.keyId}, not ${request.serverKeyId} which the agent trusts; ` +
        'if the key was replaced on purpose, start the agent with --server-key-fingerprint naming the new one',
    );
  }
  const token = newToken();
  return db.transaction(async (tx) => {
    const relayId = request.role === 'computer' ? await relayIdOf(tx, request) : null;
    const table = tables[request.role];
    const values = request.role === 'computer' ? { name: request.name, url: request.url, relayId } : { name: request.name, url: request.url };
    const [inserted] = await tx.insert(table).values(values).onConflictDoNothing({ target: table.name }).returning({ id: table.id });
    let id: string;
    let provedByToken = false;
    if (inserted) {
      id = inserted.id;
    } else {
      const [existing] = await tx.select({ id: table.id }).from(table).where(eq(table.name, request.name)).for('update');
      id = existing!.id;
      provedByToken = await requireOwnToken(tx, request, id, presentedToken);
      await tx.update(table).set(values).where(eq(table.id, id));
      await tx.delete(agentTokens).where(eq(agentTokens.agentId, id));
    }
    if (request.labels !== undefined) {
      // The agent's labels over the computer's own: keys an admin set and the agent does not name stay.
      const labels = sql`${computers.labels} || ${JSON.stringify(request.labels)}::jsonb`;
      await tx.update(computers).set({ labels }).where(eq(computers.id, id));
    }
    await tx.insert(agentTokens).values({ tokenHash: hashToken(token), role: request.role, agentId: id });
    return { id, created: inserted !== undefined, provedByToken, token, serverPublicKey: serverKey.publicKeyPem };
  });
}

/** What a reset answers: the agent, whose tokens no longer work. */
export const agentResetSchema = z.strictObject({ id: uuid, name: z.string(), revokedTokens: z.number().int().nonnegative() });

export type AgentReset = z.infer<typeof agentResetSchema>;

/** Revokes every token of the relay or computer `id`: it can no longer call the api, and its name may enrol afresh. */
export async function resetAgent(db: AppDependencies['db'], role: AgentRole, id: string): Promise<AgentReset> {
  const table = tables[role];
  if (!isUuid(id)) throw new NotFound(`${role}_not_found`, `no ${role} with id ${id}`);
  return db.transaction(async (tx) => {
    const [agent] = await tx.select({ id: table.id, name: table.name }).from(table).where(eq(table.id, id)).for('update');
    if (!agent) throw new NotFound(`${role}_not_found`, `no ${role} with id ${id}`);
    const revoked = await tx.delete(agentTokens).where(eq(agentTokens.agentId, id)).returning({ tokenHash: agentTokens.tokenHash });
    return { ...agent, revokedTokens: revoked.length };
  });
}

/** Whether `secret` is the enrolment secret: the rotated one once an admin rotated it, else the configured one. */
export async function isEnrollSecret({ db, config }: Pick<AppDependencies, 'db' | 'config'>, secret: string): Promise<boolean> {
  const [rotated] = await db.select({ secretHash: enrollSecret.secretHash }).from(enrollSecret);
  if (rotated) return secretsEqual(hashToken(secret), rotated.secretHash);
  return config.enrollSecret !== undefined && secretsEqual(secret, config.enrollSecret);
}

/** Replaces the enrolment secret with a new random one, returned once; the old one stops working at once. */
/** What a rotation answers: the new secret (shown once) and when it replaced the old one. */
export const rotatedSecretSchema = z.strictObject({ enrollSecret: z.string(), rotatedAt: timestamp });

export async function rotateEnrollSecret(db: AppDependencies['db']): Promise<z.infer<typeof rotatedSecretSchema>> {
  const secret = newToken();
  const [row] = await db
    .insert(enrollSecret)
    .values({ secretHash: hashToken(secret) })
    .onConflictDoUpdate({ target: enrollSecret.singleton, set: { secretHash: hashToken(secret), rotatedAt: sql`now()` } })
    .returning({ rotatedAt: enrollSecret.rotatedAt });
  return { enrollSecret: secret, rotatedAt: row!.rotatedAt.toISOString() };
}
