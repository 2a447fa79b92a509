/**
 * Enrolment with the managing server (`POST /api/v1/enroll`). An agent enrols at every start: that tells
 * the server its current URL and gets it a fresh token. The answer is kept in identity.json (mode 0600).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { causeMessage } from '../common/errors.js';
import type { FetchLike, Log } from './deps.js';
import { writeJsonAtomic } from './files.js';

/** The two roles one agent program can play (DESIGN §4). */
export type AgentRole = 'relay' | 'computer';

const identitySchema = z.object({ id: z.string().min(1), token: z.string().min(1), serverPublicKey: z.string().min(1) });

/** What the server issued: the agent's id, its bearer token, and the key orders are verified with. */
export type Identity = z.infer<typeof identitySchema>;

/** The server answered with a client error: retrying would not help, so the agent gives up. */
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
  fetch: FetchLike;
  signal: AbortSignal;
  log: Log;
}

/** Backoff while the server is unreachable: it may simply be starting up alongside the agent. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** Enrols, retrying for as long as the server is unreachable or answers 5xx (until `signal` aborts). */
export async function enrol(request: EnrolmentRequest): Promise<Identity> {
  const endpoint = `${request.serverUrl.replace(/\/+$/, '')}/api/v1/enroll`;
  const body = JSON.stringify({
    role: request.role,
    name: request.name,
    url: request.url,
    ...(request.relayName === undefined ? {} : { relay: request.relayName }),
  });
  for (let delay = FIRST_RETRY_MS; ; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
    const problem = await attempt(endpoint, body, request);
    if (typeof problem !== 'string') return problem;
    request.log(`cannot enrol at ${endpoint} yet (${problem}); retrying in ${delay} ms`);
    await sleep(delay, undefined, { signal: request.signal });
  }
}

/** One attempt: the identity, or why it is worth trying again. Throws EnrolmentRefused on a 4xx. */
async function attempt(endpoint: string, body: string, request: EnrolmentRequest): Promise<Identity | string> {
  let response: Response;
  try {
    response = await request.fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.enrollSecret}`, 'content-type': 'application/json' },
      body,
      signal: request.signal,
    });
  } catch (error) {
    request.signal.throwIfAborted();
    return `server unreachable: ${causeMessage(error)}`;
  }
  const text = await response.text();
  if (response.status >= 500) return `server answered HTTP ${response.status}`;
  if (!response.ok) {
    throw new EnrolmentRefused(`enrolment refused by the server (HTTP ${response.status}): ${errorMessage(text)}`);
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

function errorMessage(text: string): string {
  const body = parseJson(text) as { error?: { message?: unknown } } | undefined;
  return typeof body?.error?.message === 'string' ? body.error.message : text.slice(0, 200) || 'no reason given';
}

/** Keeps the identity in the data folder, readable by the agent's user only (it holds the token). */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  await writeJsonAtomic(path, identity, 0o600);
}
