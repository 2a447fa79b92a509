/**
 * The whole Courier a benchmark run measures, started from nothing and removed afterwards: a Temporal dev
 * server of its own (SQLite file in WAL mode), a fresh PostgreSQL database, the api, the worker and the
 * fleet simulator, each a real process. A process that dies during the run aborts the run; stop() removes
 * everything (processes, database, folders), also after a failed start.
 */
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { DEFAULT_CHECK_IN_EVERY_MS, loadConfig } from '../../../common/config.js';
import { migrateDatabase } from '../../../db/migrate.js';
import { startApi, startWorker, type ProgramSource } from '../courier-processes.js';
import { freePort } from '../../../common/ports.js';
import { spawnProcess, type ManagedProcess } from '../processes.js';
import { startDevServer } from '../temporal-dev-server.js';
import type { FleetShard } from '../../../agent/fleet/plan.js';
import { FleetShards } from './fleet-shards.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Where new databases are made; the run's own is created beside the `postgres` database. */
const ADMIN_DATABASE_URL = process.env.COURIER_BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Progress lines for the operator. */
export type BenchLog = (message: string) => void;

/** The fleet's ready line (scripts/fleet.ts). */
interface FleetReady {
  url: string;
  namePrefix: string;
}

/**
 * Where the run's folder goes: memory (/dev/shm) when the machine has it. Thousands of simulated computers
 * write their order records there, on one disk here where a real fleet has a disk each; in memory, their
 * syncs cost what they would cost each computer alone, not a queue on one shared disk.
 */
async function runFolderParent(): Promise<string> {
  const memory = '/dev/shm';
  return (await access(memory, constants.W_OK).then(() => true, () => false)) ? memory : tmpdir();
}

/** What the benchmark's fleet is: its size, its simulated install time and how many processes run it. */
export interface BenchFleet {
  computers: number;
  relays: number;
  installMs: number;
  /** Simulator processes, each a shard of the fleet (scripts/lib/bench/fleet-shards.ts). */
  fleetProcesses: number;
}

/** Enrolments in flight at once, over all fleet processes. */
const ENROL_CONCURRENCY = 32;

/**
 * Check-ins a second the fleet is held to, about what 10,000 agents make at the default interval: a
 * larger fleet is told to check in less often, as docs/scaling.md advises operators (a check-in costs the
 * api about 2 ms of CPU, so 100,000 agents every 5 minutes would take most of a core here).
 */
const CHECK_INS_PER_SECOND = 35;

/** The check-in interval the run's api names to its agents (COURIER_CHECK_IN_EVERY_MS). */
export function benchCheckInEveryMs(computers: number): number {
  return Math.max(DEFAULT_CHECK_IN_EVERY_MS, Math.ceil(computers / CHECK_INS_PER_SECOND) * 1000);
}

/** The fleet simulator's heap limit, in MiB. */
const FLEET_HEAP_MIB = 12 * 1024;

/** Names every computer and relay of the run's fleet. */
export const FLEET_PREFIX = 'bench';

/** The running stack; start() it, stop() it once (stop is safe to call again). */
export class BenchStack {
  readonly adminToken = randomBytes(18).toString('base64url');
  readonly enrollSecret = randomBytes(18).toString('base64url');
  /** Aborted when the run must end: a process died, or the caller gave up (Ctrl-C). */
  readonly signal: AbortSignal;
  apiUrl = '';
  /** The fleet simulator's processes, asked as one. */
  fleet!: FleetShards;
  temporalAddress = '';
  databaseUrl = '';
  /** The managing server's signing key, as the api and worker load it. */
  signingKeyFile = '';
  /** pid of each process whose memory is reported: api, worker, temporal, and fleet (or fleet-1… when it runs as several). */
  readonly pids: Record<string, number> = {};
  private readonly aborter = new AbortController();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly processes = new Map<string, ManagedProcess>();
  private stopping: Promise<void> | undefined;
  private folder = '';

  private constructor(private readonly log: BenchLog, outside?: AbortSignal) {
    this.signal = outside ? AbortSignal.any([outside, this.aborter.signal]) : this.aborter.signal;
  }

  /** Starts everything, in order; on a failure, what was started is removed again before the error is thrown. */
  static async start(fleet: BenchFleet, programs: ProgramSource, log: BenchLog, signal?: AbortSignal): Promise<BenchStack> {
    const stack = new BenchStack(log, signal);
    try {
      await stack.startEverything(fleet, programs);
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** The folder of the run's logs (removed by stop()). */
  get logsDir(): string {
    return join(this.folder, 'logs');
  }

  /** The last lines each process printed, to explain a failure. */
  recentOutput(lines = 15): string {
    return [...this.processes]
      .map(([name, child]) => `--- ${name} ---\n${child.recent.slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** An admin request to the api; the body, when given, is sent as JSON. Throws on a non-2xx answer. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: this.signal,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Stops every process (fleet first, Temporal last), drops the database and removes the run's folder. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const cleanup of this.cleanups.reverse()) {
        await cleanup().catch((error: unknown) => this.log(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
      }
    })();
    return this.stopping;
  }

  private async startEverything(fleet: BenchFleet, programs: ProgramSource): Promise<void> {
    this.folder = await mkdtemp(join(await runFolderParent(), 'courier-bench-'));
    this.cleanups.push(() => rm(this.folder, { recursive: true, force: true }));
    await mkdir(this.logsDir, { recursive: true });

    const name = `courier_bench_${randomBytes(6).toString('hex')}`;
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${name}`;
    this.databaseUrl = url.toString();
    this.cleanups.push(() => dropDatabase(name));
    this.signal.throwIfAborted();
    this.log(`creating database ${name}`);
    await migrateDatabase(this.databaseUrl);

    this.log('starting a Temporal dev server (SQLite, WAL)');
    const temporalPort = await freePort();
    const temporal = await startDevServer({
      port: temporalPort,
      dbFile: join(this.folder, 'temporal.db'),
      sqlitePragmas: { journal_mode: 'WAL', synchronous: 'NORMAL' },
      logFile: createWriteStream(join(this.logsDir, 'temporal.log')),
    });
    this.cleanups.push(() => temporal.stop());
    this.temporalAddress = temporal.address;
    this.watch('temporal', temporal.process);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      COURIER_TASK_QUEUE: 'courier-bench',
      COURIER_API_PORT: String(await freePort()),
      COURIER_WORKER_METRICS_PORT: String(await freePort()),
      COURIER_DATA_DIR: join(this.folder, 'server'),
      COURIER_ADMIN_TOKEN: this.adminToken,
      COURIER_ENROLL_SECRET: this.enrollSecret,
      COURIER_CHECK_IN_EVERY_MS: String(benchCheckInEveryMs(fleet.computers)),
    };
    this.signingKeyFile = loadConfig(env).signingKeyFile;
    this.signal.throwIfAborted();
    this.log(`starting the api and the worker ${programs.built ? `from the build in ${programs.built}` : 'from source'}; agents check in every ${env.COURIER_CHECK_IN_EVERY_MS} ms`);
    const api = await startApi(env, join(this.logsDir, 'api.log'), programs);
    this.manage('api', api.process);
    this.apiUrl = api.url;
    this.manage('worker', await startWorker(env, join(this.logsDir, 'worker.log'), programs));

    this.signal.throwIfAborted();
    const count = fleet.fleetProcesses;
    this.log(`starting the fleet: ${fleet.computers} computers over ${fleet.relays} relays${count > 1 ? ` in ${count} processes` : ''}`);
    const shards = Array.from({ length: count }, (_, index) => (count === 1 ? undefined : { index, count }));
    const ready = await Promise.all(shards.map((shard) => this.startFleet(fleet, programs, env, shard)));
    this.fleet = new FleetShards(
      ready.map((line) => line.url),
      { computers: fleet.computers, relays: fleet.relays, prefix: FLEET_PREFIX },
      this.signal,
    );
  }

  /** One fleet process: the whole fleet, or shard `shard` of it. */
  private async startFleet(fleet: BenchFleet, programs: ProgramSource, env: NodeJS.ProcessEnv, shard?: FleetShard): Promise<FleetReady> {
    const name = shard ? `fleet-${shard.index + 1}` : 'fleet';
    const args = ['--computers', String(fleet.computers), '--relays', String(fleet.relays), '--install-ms', String(fleet.installMs)];
    // The api enrols some 140 computers a second whatever the number of fleet processes: share the concurrency.
    const enrolConcurrency = Math.max(4, Math.ceil(ENROL_CONCURRENCY / fleet.fleetProcesses));
    args.push('--server', this.apiUrl, '--name-prefix', FLEET_PREFIX, '--data-dir', join(this.folder, 'fleet'), '--enroll-concurrency', String(enrolConcurrency));
    if (shard) args.push('--shard', `${shard.index + 1}/${shard.count}`);
    // The secret travels in the environment, not in the process listing.
    // The fleet stands for every computer's memory at once: 100,000 agents outgrow V8's default heap of about 4 GiB.
    const heap = `--max-old-space-size=${FLEET_HEAP_MIB}`;
    // From the build when the api and the worker run from it: agents compiled as a real agent is, without
    // tsx's helpers, which give every function the simulator makes per agent a property store of its own.
    const program = programs.built ? [join(programs.built, 'scripts/fleet.js')] : ['--import', 'tsx', `${root}scripts/fleet.ts`];
    const child = spawnProcess(name, process.execPath, ['--expose-gc', heap, ...program, ...args], {
      cwd: root,
      env: { ...env, COURIER_ENROLL_SECRET: this.enrollSecret },
      logFile: join(this.logsDir, `${name}.log`),
    });
    this.manage(name, child);
    let lastShown = 0;
    if (child.child.stderr) {
      createInterface({ input: child.child.stderr }).on('line', (line) => {
        if (!/enrolled \d+\/\d+ computers/.test(line) || Date.now() - lastShown < 10_000) return;
        lastShown = Date.now();
        this.log(line.replace(/^courier fleet: /, `${name}: `));
      });
    }
    // Enrolment runs at about 140 computers a second against the api: give it ample time, never forever.
    const [line] = await this.unlessAborted(child.waitForLine(/^\{"ready":true.*\}$/, 120_000 + fleet.computers * 50));
    return JSON.parse(line) as FleetReady;
  }

  /** `step`, unless the run is aborted first (a long enrolment need not finish before Ctrl-C takes effect). */
  private unlessAborted<T>(step: Promise<T>): Promise<T> {
    const { signal } = this;
    signal.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      step.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Stopped by stop(); aborts the run when it exits before. */
  private manage(name: string, child: ManagedProcess): void {
    this.processes.set(name, child);
    this.cleanups.push(() => child.stop());
    this.watch(name, child.child);
  }

  private watch(name: string, child: ManagedProcess['child']): void {
    if (child.pid !== undefined) this.pids[name] = child.pid;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.aborter.abort(new Error(`the ${name} process stopped during the run (${signal ?? `code ${code}`}); see its log in ${this.logsDir}`));
    });
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}
