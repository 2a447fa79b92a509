/**
 * An agent's check-ins (POST /api/v1/check-in, DESIGN §7): at start and then every interval the managing
 * server names in its answer, the agent says where it is reached now and what it runs. That keeps its URL
 * current when a laptop changes address and shows admins which computers are online. A check-in that
 * fails is tried again with backoff; a check-in matters less than work, so it never delays any.
 */
import { arch, release, type } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { COURIER_VERSION } from '../common/version.js';
import { backoffDelayMs, jittered, type Backoff } from './backoff.js';
import type { FetchLike, Log } from './deps.js';

/** Until the server has answered once: how long to wait before the next check-in. */
const FIRST_INTERVAL_MS = 5 * 60_000;
const CHECK_IN_BACKOFF: Backoff = { firstMs: 2_000, maxMs: 60_000 };
const REQUEST_TIMEOUT_MS = 15_000;

/** What this agent runs on, as `Linux 6.1.0 (x64)`. */
export const OPERATING_SYSTEM = `${type()} ${release()} (${arch()})`;

export interface CheckInOptions {
  serverUrl: string;
  token: () => string;
  /** The URL the agent is reached at now. */
  url: () => string;
  fetch: FetchLike;
  log: Log;
  signal: AbortSignal;
  /** Relays: the bandwidth limit each answer names (bytes per second; null for none). */
  onBandwidthLimit?: (bytesPerSecond: number | null) => void;
}

/** Checks in until `signal` aborts; resolves then. */
export async function checkInUntilStopped(options: CheckInOptions): Promise<void> {
  let intervalMs = FIRST_INTERVAL_MS;
  let failures = 0;
  while (!options.signal.aborted) {
    try {
      intervalMs = await checkInOnce(options);
      failures = 0;
    } catch (error) {
      if (options.signal.aborted) return;
      failures += 1;
      if (failures === 1) options.log(`cannot check in yet (${error instanceof Error ? error.message : String(error)}); retrying with backoff`);
    }
    const waitMs = failures > 0 ? Math.min(backoffDelayMs(CHECK_IN_BACKOFF, failures), intervalMs) : jittered(intervalMs);
    await sleep(waitMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** One check-in; returns the interval the server asks for. */
async function checkInOnce(options: CheckInOptions): Promise<number> {
  const response = await options.fetch(`${options.serverUrl}/api/v1/check-in`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.token()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: options.url(), agentVersion: COURIER_VERSION, os: OPERATING_SYSTEM }),
    signal: AbortSignal.any([options.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
  });
  const body = (await response.json().catch(() => undefined)) as
    | { checkInEveryMs?: unknown; bandwidthLimit?: unknown; error?: { message?: string } }
    | undefined;
  if (!response.ok) throw new Error(`the managing server answered HTTP ${response.status}${body?.error?.message ? `: ${body.error.message}` : ''}`);
  const limit = body?.bandwidthLimit;
  options.onBandwidthLimit?.(typeof limit === 'number' && limit > 0 ? limit : null);
  return typeof body?.checkInEveryMs === 'number' && body.checkInEveryMs > 0 ? body.checkInEveryMs : FIRST_INTERVAL_MS;
}
