/**
 * The floor (DESIGN §5): what the install job's work costs with nothing of Courier around it. The bench
 * signs a download ticket per computer with the managing server's key and has the fleet run the floor
 * where its simulated computers live (agent/fleet/floor.ts): the same downloads from the same relays,
 * with the same bound per relay, verified as an agent verifies them, and "installed" for the same time,
 * by a bare concurrent loop with no Temporal, no database and no orders. In the fleet's own processes
 * (each shard downloading from its own relays) it has the CPU the simulated computers have, no more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FloorRequest } from '../../../agent/fleet/floor.js';
import { signTicket } from '../../../trust/orders.js';
import { loadOrCreateServerKey } from '../../../trust/signing.js';
import type { FloorFigures } from './figures.js';
import { listAll, type UploadedPackage } from './jobs.js';
import { cpuSeconds, cpuUsedBetween, type Point } from './measures.js';
import type { BenchLog, BenchStack } from './stack.js';

/** How often the bench asks the fleet how the floor is going. */
const POLL_MS = 250;
const LOG_EVERY_MS = 10_000;

/**
 * Step 2 of a run: the floor for the install job just measured, on the same computers, relays and package
 * (which the relays hold since that job).
 */
export async function floorPhase(
  stack: BenchStack,
  pkg: UploadedPackage,
  { installMs, downloadsPerRelay }: { installMs: number; downloadsPerRelay: number },
  log: BenchLog,
): Promise<FloorFigures> {
  const relays = new Map((await listAll<{ id: string; url: string }>(stack, '/relays')).map((relay) => [relay.id, relay.url]));
  // The api created the key at its start; this reads it, as the worker does.
  const key = await loadOrCreateServerKey(stack.signingKeyFile);
  const expiresAt = new Date(Date.now() + 24 * 3_600_000).toISOString();
  const computers = (await listAll<{ id: string; name: string; relay: { id: string } | null }>(stack, '/computers')).map((computer) => {
    const relayUrl = computer.relay ? relays.get(computer.relay.id) : undefined;
    if (!relayUrl) throw new Error(`floor: computer ${computer.name} has no relay; the floor downloads from relays only`);
    return { relayUrl, ticket: signTicket(key, { packageId: pkg.id, computerId: computer.id, expiresAt }) };
  });
  const request: FloorRequest = {
    packageId: pkg.id,
    sha256: pkg.sha256,
    size: pkg.size,
    installMs,
    downloadsPerRelay,
    computers,
  };
  const cpuBefore = await cpuSeconds(stack.pids);
  let progress = await stack.fleet.startFloor(request);
  let loggedAt = Date.now();
  while (progress.running) {
    await sleep(POLL_MS, undefined, { signal: stack.signal });
    progress = await stack.fleet.floor();
    if (Date.now() - loggedAt >= LOG_EVERY_MS) {
      log(`floor: ${progress.finished}/${computers.length} computers finished`);
      loggedAt = Date.now();
    }
  }
  const cpu = cpuUsedBetween(cpuBefore, await cpuSeconds(stack.pids));
  if (progress.error) throw new Error(`floor: ${progress.error}`);
  const ms = progress.ms ?? 0;
  log(`floor: ${progress.finished} computers in ${(ms / 1000).toFixed(1)} s`);
  return {
    ms,
    finished: progress.finished,
    bytesVerified: progress.bytes,
    retries: progress.retries,
    downloadsPerRelay,
    series: finishedOverTime(progress.finishedAtMs),
    cpuSeconds: cpu,
  };
}

/** Computers finished over time, one point per POLL_MS as the install job's samples are, from each finish time. */
function finishedOverTime(finishedAtMs: readonly number[]): Point[] {
  const points: Point[] = [[0, 0]];
  finishedAtMs.forEach((at, index) => {
    const bucket = Math.ceil(at / POLL_MS) * POLL_MS;
    const last = points.at(-1) as Point;
    if (last[0] === bucket / 1000) last[1] = index + 1;
    else points.push([bucket / 1000, index + 1]);
  });
  return points;
}
