/**
 * The floor (DESIGN §5): what the install job's work costs with nothing of Courier around it. The same
 * computers download the same package from the same relays, with the same bound on downloads per relay
 * and a download ticket signed by the managing server's key, verify its SHA-256 as an agent does, and
 * "install" for the same time, driven by a bare concurrent loop: no Temporal, no database, no orders.
 * It writes nothing to disk, so it is a true lower bound.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachLimited } from '../../../common/concurrency.js';
import { DEFAULT_DOWNLOADS_PER_RELAY } from '../../../common/throughput.js';
import { signTicket } from '../../../trust/orders.js';
import { loadOrCreateServerKey, type ServerKey } from '../../../trust/signing.js';
import type { FloorFigures } from './figures.js';
import { listAll, type UploadedPackage } from './jobs.js';
import { Sampler } from './measures.js';
import type { BenchLog, BenchStack } from './stack.js';

/** A computer of the fleet as the floor drives it. */
export interface FloorComputer {
  id: string;
  name: string;
  /** The URL of its relay (the agent URL the relay enrolled with). */
  relayUrl: string;
}

export interface FloorRun {
  computers: readonly FloorComputer[];
  pkg: { id: string; sha256: string; size: number };
  key: ServerKey;
  installMs: number;
  /** Downloads in flight per relay, as Courier bounds them. */
  downloadsPerRelay: number;
  signal: AbortSignal;
}

/** The floor's progress, readable while it runs. */
export class Floor {
  /** Computers whose download verified and whose install ended. */
  finished = 0;
  /** Content bytes received and verified. */
  bytes = 0;
  /** Downloads tried again after a connection error or a 5xx. */
  retries = 0;

  /** Runs the floor to its end; throws when a download fails its hash or never succeeds. */
  async run(outer: FloorRun): Promise<void> {
    // Thousands of downloads and installs wait on the run's signal at once: they listen to a signal of the
    // floor's own, allowed that many listeners, which alone listens to the run's.
    outer.signal.throwIfAborted();
    const local = new AbortController();
    setMaxListeners(0, local.signal);
    const abort = () => local.abort(outer.signal.reason);
    outer.signal.addEventListener('abort', abort, { once: true });
    try {
      await this.runAll({ ...outer, signal: local.signal });
    } finally {
      outer.signal.removeEventListener('abort', abort);
      // A failed download leaves installs asleep: end them with the run.
      local.abort(new Error('the floor ended'));
    }
  }

  private async runAll(job: FloorRun): Promise<void> {
    const byRelay = new Map<string, FloorComputer[]>();
    for (const computer of job.computers) {
      const group = byRelay.get(computer.relayUrl);
      if (group) group.push(computer);
      else byRelay.set(computer.relayUrl, [computer]);
    }
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const installs: Promise<void>[] = [];
    await Promise.all(
      [...byRelay].map(([relayUrl, computers]) =>
        forEachLimited(computers, job.downloadsPerRelay, async (computer) => {
          const ticket = signTicket(job.key, { packageId: job.pkg.id, computerId: computer.id, expiresAt });
          await this.download(`${relayUrl}/packages/${job.pkg.id}/content`, ticket, job);
          // The install holds no download slot: the next computer of the relay starts downloading now.
          const install = sleep(job.installMs, undefined, { signal: job.signal }).then(
            () => void (this.finished += 1),
            () => undefined,
          );
          installs.push(install);
        }),
      ),
    );
    await Promise.all(installs);
    job.signal.throwIfAborted();
  }

  /** One computer's download, hashed as it streams in and checked against the package's size and SHA-256. */
  private async download(url: string, ticket: string, job: FloorRun): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(url, { headers: { 'x-courier-ticket': ticket }, signal: job.signal });
      } catch (error) {
        if (job.signal.aborted || attempt >= 5) throw error;
        this.retries += 1;
        await sleep(250 * attempt, undefined, { signal: job.signal });
        continue;
      }
      if (response.status >= 500 && attempt < 5) {
        await response.body?.cancel();
        this.retries += 1;
        await sleep(250 * attempt, undefined, { signal: job.signal });
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`floor: GET ${url} answered HTTP ${response.status} ${await response.text()}`);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
      const sha256 = hash.digest('hex');
      if (size !== job.pkg.size || sha256 !== job.pkg.sha256) {
        throw new Error(`floor: ${url} served ${size} bytes with SHA-256 ${sha256}, not the package's ${job.pkg.size} bytes ${job.pkg.sha256}`);
      }
      this.bytes += size;
      return;
    }
  }
}

/**
 * Step 2 of a run: the floor for the install job just measured, on the same computers, relays and package
 * (which the relays hold since that job), sampled like the job for the chart.
 */
export async function floorPhase(stack: BenchStack, pkg: UploadedPackage, installMs: number, log: BenchLog): Promise<FloorFigures> {
  const relays = new Map((await listAll<{ id: string; url: string }>(stack, '/relays')).map((relay) => [relay.id, relay.url]));
  const computers = (await listAll<{ id: string; name: string; relay: { id: string } | null }>(stack, '/computers')).map((computer) => {
    const relayUrl = computer.relay ? relays.get(computer.relay.id) : undefined;
    if (!relayUrl) throw new Error(`floor: computer ${computer.name} has no relay; the floor downloads from relays only`);
    return { id: computer.id, name: computer.name, relayUrl };
  });
  // The api created the key at its start; this reads it, as the worker does.
  const key = await loadOrCreateServerKey(stack.signingKeyFile);
  const floor = new Floor();
  const started = Date.now();
  const sampler = new Sampler(started, () => floor.finished);
  const ticker = setInterval(() => log(`floor: ${floor.finished}/${computers.length} computers finished`), 10_000);
  try {
    await floor.run({ computers, pkg, key, installMs, downloadsPerRelay: DEFAULT_DOWNLOADS_PER_RELAY, signal: stack.signal });
  } finally {
    clearInterval(ticker);
    sampler.stop();
  }
  const ms = Date.now() - started;
  sampler.points.push([ms / 1000, floor.finished]);
  log(`floor: ${floor.finished} computers in ${(ms / 1000).toFixed(1)} s`);
  return {
    ms,
    finished: floor.finished,
    bytesVerified: floor.bytes,
    retries: floor.retries,
    downloadsPerRelay: DEFAULT_DOWNLOADS_PER_RELAY,
    series: sampler.points,
  };
}
