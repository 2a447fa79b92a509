/**
 * Enrolment with the managing server (`POST /api/v1/enroll`). An agent enrols at every start: that tells
 * the server its current URL and gets it a fresh token. The answer is kept in identity.json (mode 0600).
 * Once enrolled, an agent proves its name with its current token (`X-Courier-Agent-Token`) and pins the
 * server's signing key: a later answer with another key is refused, unless the operator names the new key
 * with `--server-key-fingerprint` (a rotation on purpose, docs/security.md).
 * Machines boot in any order: an agent waits, with backoff, for a server that is away and for a relay that
 * has not enrolled yet, and gives up only when the server refuses it for good.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { causeMessage, errorMessage } from '../common/errors.js';
import type { Labels } from '../common/labels.js';
import { keyFingerprint } from '../trust/signing.js';
import { backoffDelayMs, RETRYABLE_CLIENT_ERRORS, type Backoff } from './backoff.js';
import type { FetchLike, Log } from './deps.js';
import { readJsonIfExists, writeJsonAtomic } from './files.js';

/** The two roles one agent program can play (DESIGN §4). */
export type AgentRole = 'relay' | 'computer';

const identitySchema = z.object({ id: z.string().min(1), token: z.string().min(1), serverPublicKey: z.string().min(1) });

/** What the server issued: the agent's id, its bearer token, and the key orders are verified with. */
export type Identity = z.infer<typeof identitySchema>;

/** The server refused the enrolment for good (a wrong secret, a bad request): retrying would not help. */
export class EnrolmentRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrolmentRefused';
  }
}

/** Who is enrolling, where, and with what. */
export interface EnrolmentRequest {
  serverUrl: string;
  enrollSecret: string;
  role: AgentRole;
  name: string;
  /** The agent's own base URL, where the server sends orders. */
  url: string;
  /** Computers: the name of the relay that serves them. */
  relayName?: string;
  /** Computers: labels to set on the computer (keys it does not name keep their value). */
  labels?: Labels;
  /** What the last enrolment gave, if any: its token proves the name, its key is the pinned one. */
  known?: Identity;
  /** The key the operator says the server has (`sha256:…`): trusted at the first enrolment, or instead of the pinned one. */
  serverKeyFingerprint?: string;
  fetch: FetchLike;
  signal: AbortSignal;
  log: Log;
}

/** The header an agent proves its name with when it enrols again (DESIGN §7). */
const AGENT_TOKEN_HEADER = 'X-Courier-Agent-Token';

/** The server may be starting alongside the agent: try again soon, then every half minute or so. */
const ENROL_BACKOFF: Backoff = { firstMs: 250, maxMs: 30_000 };

/** The api's error code for a computer whose relay has not enrolled yet: the relay may still be booting. */
const RELAY_NOT_YET_ENROLLED = 'unknown_relay';

/**
 * Enrols, waiting with backoff for as long as the server is unreachable, busy (5xx, 408, 429) or does not
 * know the computer's relay yet, until `signal` aborts; each wait is logged with its reason.
 */
export async function enrol(request: EnrolmentRequest): Promise<Identity> {
  const endpoint = `${request.serverUrl.replace(/\/+$/, '')}/api/v1/enroll`;
  const trustedKey = request.serverKeyFingerprint ?? (request.known ? keyFingerprint(request.known.serverPublicKey) : undefined);
  const body = JSON.stringify({
    role: request.role,
    name: request.name,
    url: request.url,
    ...(request.relayName === undefined ? {} : { relay: request.relayName }),
    ...(request.labels === undefined ? {} : { labels: request.labels }),
    ...(trustedKey === undefined ? {} : { serverKeyId: trustedKey }),
  });
  for (let failures = 1; ; failures += 1) {
    const problem = await attempt(endpoint, body, request);
    if (typeof problem !== 'string') {
      requireTrustedKey(problem.serverPublicKey, trustedKey, request);
      return problem;
    }
    const delay = backoffDelayMs(ENROL_BACKOFF, failures);
    request.log(`cannot enrol at ${endpoint} yet (${problem}); retrying in ${delay} ms`);
    await sleep(delay, undefined, { signal: request.signal });
  }
}

/**
 * Refuses a signing key the agent was not told to trust: with `--server-key-fingerprint`, any other key;
 * otherwise, once enrolled, any key but the pinned one. The managing server refuses an agent that trusts
 * another key than its own before answering, so an answer with another key comes from someone between the
 * agent and the server, who could otherwise sign the orders this computer runs.
 */
function requireTrustedKey(serverPublicKey: string, trusted: string | undefined, request: EnrolmentRequest): void {
  let offered: string;
  try {
    offered = keyFingerprint(serverPublicKey);
  } catch (error) {
    throw new EnrolmentRefused(`the enrolment answer holds no usable public key: ${errorMessage(error)}`);
  }
  if (trusted === undefined || offered === trusted) return;
  const source = request.serverKeyFingerprint ? '--server-key-fingerprint names' : 'this agent pinned';
  throw new EnrolmentRefused(`the enrolment answer carries signing key ${offered}, but ${source} ${trusted}: refusing it`);
}

/** One attempt: the identity, or why it is worth trying again. Throws EnrolmentRefused on a refusal for good. */
async function attempt(endpoint: string, body: string, request: EnrolmentRequest): Promise<Identity | string> {
  let response: Response;
  try {
    response = await request.fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${request.enrollSecret}`,
        'content-type': 'application/json',
        ...(request.known ? { [AGENT_TOKEN_HEADER]: request.known.token } : {}),
      },
      body,
      signal: request.signal,
    });
  } catch (error) {
    request.signal.throwIfAborted();
    return `server unreachable: ${causeMessage(error)}`;
  }
  const text = await response.text();
  if (response.status >= 500 || RETRYABLE_CLIENT_ERRORS.has(response.status)) return `server answered HTTP ${response.status}`;
  if (!response.ok) {
    const refusal = errorOf(text);
    if (refusal.code === RELAY_NOT_YET_ENROLLED) return `waiting for relay "${request.relayName}" to enrol: ${refusal.message}`;
    throw new EnrolmentRefused(`enrolment refused by the server (HTTP ${response.status}): ${refusal.message}`);
  }
  const parsed = identitySchema.safeParse(parseJson(text));
  if (!parsed.success) throw new EnrolmentRefused('the server answered the enrolment with an unexpected body');
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The code and message of the api's error body, or an excerpt of any other body. */
function errorOf(text: string): { code?: string; message: string } {
  const body = parseJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === 'string' ? body.error.code : undefined;
  const message = typeof body?.error?.message === 'string' ? body.error.message : text.slice(0, 200) || 'no reason given';
  return { code, message };
}

/**
 * The identity the last enrolment saved, if it can be read. One that cannot is logged and treated as none:
 * the agent then enrols as new, which the server refuses (409 `already_enrolled`) until an admin resets it.
 */
export async function loadIdentity(path: string, log: Log): Promise<Identity | undefined> {
  let saved: unknown;
  try {
    saved = await readJsonIfExists(path);
  } catch (error) {
    log(`ignoring ${path}: ${errorMessage(error)}`);
    return undefined;
  }
  if (saved === undefined) return undefined;
  const parsed = identitySchema.safeParse(saved);
  if (!parsed.success) log(`ignoring ${path}: it does not hold an identity`);
  return parsed.success ? parsed.data : undefined;
}

/** Keeps the identity in the data folder, readable by the agent's user only (it holds the token). */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  await writeJsonAtomic(path, identity, 0o600);
}
