/**
 * The floor (DESIGN §5), run where the simulated computers live: the same downloads from the same relays,
 * within the same bound per relay, each hashed and checked as an agent checks it, then a simulated install
 * of the same length, driven by a bare concurrent loop, with no orders, no records on disk, no Temporal and
 * no database. Run in the fleet's own process, it has exactly the CPU and the loopback the simulated
 * computers have, so Courier ÷ floor measures what the managing server and the agent protocol add, not
 * how many processes the simulator happens to use.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { groupBy } from '../../common/collections.js';
import { forEachLimited } from '../../common/concurrency.js';
import type { FetchLike } from '../deps.js';

/** What `POST /fleet/floor` is asked to run: one download ticket per computer, signed by the managing server. */
export interface FloorRequest {
  packageId: string;
  sha256: string;
  size: number;
  installMs: number;
  downloadsPerRelay: number;
  computers: { relayUrl: string; ticket: string }[];
}

/** Where a floor run stands (`GET /fleet/floor`); `ms` and `error` once it has ended. */
export interface FloorProgress {
  running: boolean;
  computers: number;
  finished: number;
  bytes: number;
  retries: number;
  /** When each computer finished, in ms from the start, in the order they finished. */
  finishedAtMs: number[];
  ms?: number;
  error?: string;
}

/** A download that fails this many times in a row ends the run. */
const MAX_TRIES = 5;

/** One floor run; start() once, read progress() while it runs. */
export class FloorRun {
  private readonly state: FloorProgress;
  private readonly started = Date.now();

  constructor(
    private readonly request: FloorRequest,
    private readonly fetch: FetchLike,
  ) {
    this.state = { running: true, computers: request.computers.length, finished: 0, bytes: 0, retries: 0, finishedAtMs: [] };
  }

  progress(): FloorProgress {
    return { ...this.state, finishedAtMs: this.state.running ? [] : this.state.finishedAtMs };
  }

  /** Runs to the end; the outcome is read through progress(). */
  async start(): Promise<void> {
    try {
      await this.runAll();
    } catch (error) {
      this.state.error = error instanceof Error ? error.message : String(error);
    } finally {
      this.state.ms = Date.now() - this.started;
      this.state.running = false;
    }
  }

  private async runAll(): Promise<void> {
    const byRelay = groupBy(this.request.computers, (computer) => computer.relayUrl);
    const installs: Promise<void>[] = [];
    await Promise.all(
      [...byRelay].map(([relayUrl, computers]) =>
        forEachLimited(computers, this.request.downloadsPerRelay, async ({ ticket }) => {
          await this.download(`${relayUrl}/packages/${this.request.packageId}/content`, ticket);
          // The install holds no download slot: the relay's next computer starts downloading now.
          installs.push(
            sleep(this.request.installMs).then(() => {
              this.state.finished += 1;
              this.state.finishedAtMs.push(Date.now() - this.started);
            }),
          );
        }),
      ),
    );
    await Promise.all(installs);
  }

  /** One computer's download, hashed as it streams in and checked against the package's size and SHA-256. */
  private async download(url: string, ticket: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      let response: Response | undefined;
      try {
        response = await this.fetch(url, { headers: { 'x-courier-ticket': ticket } });
      } catch (error) {
        if (attempt >= MAX_TRIES) throw error;
      }
      if (response?.ok && response.body) {
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          size += chunk.byteLength;
        }
        const sha256 = hash.digest('hex');
        if (size !== this.request.size || sha256 !== this.request.sha256) {
          throw new Error(`${url} served ${size} bytes with SHA-256 ${sha256}, not the package's ${this.request.size} bytes ${this.request.sha256}`);
        }
        this.state.bytes += size;
        return;
      }
      if (response && response.status < 500) throw new Error(`GET ${url} answered HTTP ${response.status}: ${await response.text()}`);
      await response?.body?.cancel();
      if (attempt >= MAX_TRIES) throw new Error(`GET ${url} failed ${MAX_TRIES} times`);
      this.state.retries += 1;
      await sleep(250 * attempt);
    }
  }
}
