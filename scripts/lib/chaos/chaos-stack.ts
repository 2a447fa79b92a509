/**
 * The whole Courier the kill matrix runs on, every part a real process it may SIGKILL and start again: a
 * PostgreSQL server of its own, a Temporal dev server on a SQLite file (so its workflows outlive it), the
 * api, the worker, one relay agent and computer agents behind it. Every process keeps its port and folder
 * across restarts, as a restarted machine keeps its address and disk.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import { migrateDatabase } from '../../../db/migrate.js';
import { launchAgent, startApi, startWorker, type AgentOptions } from '../courier-processes.js';
import { freePort } from '../../../common/ports.js';
import type { ManagedProcess } from '../processes.js';
import { startDevServer, type DevServer } from '../temporal-dev-server.js';
import { PrivatePostgres } from './private-postgres.js';

/** What the matrix kills. */
export const chaosTargets = ['api', 'worker', 'temporal', 'postgres', 'relay', 'computer'] as const;
export type ChaosTarget = (typeof chaosTargets)[number];

/** The relay every computer sits behind. */
export const RELAY = 'relay-1';

/** Progress lines for the operator. */
export type ChaosLog = (message: string) => void;

/** The running stack; see the file comment. */
export class ChaosStack {
  readonly adminToken = randomBytes(18).toString('base64url');
  private readonly enrollSecret = randomBytes(18).toString('base64url');
  private readonly agents = new Map<string, { options: AgentOptions; process: ManagedProcess }>();
  private readonly postgres: PrivatePostgres;
  private env: NodeJS.ProcessEnv = {};
  private temporal: DevServer | undefined;
  private temporalPort = 0;
  private api: ManagedProcess | undefined;
  private worker: ManagedProcess | undefined;
  apiUrl = '';

  constructor(
    private readonly folder: string,
    readonly computers: string[],
    private readonly log: ChaosLog,
  ) {
    this.postgres = new PrivatePostgres(join(folder, 'postgres'), this.logFile('postgres'));
  }

  /** The data folder of agent `name`, where its install command leaves what it did. */
  agentFolder(name: string): string {
    return join(this.folder, 'agents', name);
  }

  async start(): Promise<void> {
    await mkdir(join(this.folder, 'logs'), { recursive: true });
    // Traversable, not listable: the PostgreSQL server may run as another user and must reach its folder inside.
    await chmod(this.folder, 0o711);
    this.log('starting a PostgreSQL server of its own');
    await this.postgres.start();
    const admin = postgres(this.postgres.url(), { max: 1, onnotice: () => undefined });
    await admin`create database courier`;
    await admin.end();
    await migrateDatabase(this.postgres.url('courier'));

    this.log('starting a Temporal dev server (SQLite file)');
    this.temporalPort = await freePort();
    await this.startTemporal();
    this.env = {
      ...process.env,
      DATABASE_URL: this.postgres.url('courier'),
      TEMPORAL_ADDRESS: `127.0.0.1:${this.temporalPort}`,
      COURIER_TASK_QUEUE: 'courier-chaos',
      COURIER_API_PORT: String(await freePort()),
      COURIER_WORKER_METRICS_PORT: String(await freePort()),
      COURIER_DATA_DIR: join(this.folder, 'server'),
      COURIER_ADMIN_TOKEN: this.adminToken,
      COURIER_ENROLL_SECRET: this.enrollSecret,
      COURIER_AGENT_POLL_MS: '250',
      // A computer that stops reporting is asked after 3 s instead of 90.
      COURIER_REPORT_EVERY_MS: '1000',
    };
    this.log('starting the api, the worker and the agents');
    await this.startApi();
    await this.startWorker();
    await this.startAgent({ role: 'relay', name: RELAY });
    for (const name of this.computers) await this.startAgent({ role: 'computer', name, relay: RELAY });
  }

  /** SIGKILL to `target` (for agents, the one named `agent`), as a crash or a power cut would. */
  async kill(target: ChaosTarget, agent?: string): Promise<void> {
    switch (target) {
      case 'api':
        return this.api?.kill();
      case 'worker':
        return this.worker?.kill();
      case 'temporal':
        if (this.temporal?.process.exitCode === null) {
          const exited = new Promise((resolve) => this.temporal?.process.once('exit', resolve));
          this.temporal.process.kill('SIGKILL');
          await exited;
        }
        return;
      case 'postgres':
        return this.postgres.kill();
      case 'relay':
      case 'computer':
        return this.agents.get(agent ?? RELAY)?.process.kill();
    }
  }

  /** Starts `target` again, on its port and with its folder. */
  async restart(target: ChaosTarget, agent?: string): Promise<void> {
    switch (target) {
      case 'api':
        return this.startApi();
      case 'worker':
        return this.startWorker();
      case 'temporal':
        return this.startTemporal();
      case 'postgres':
        return this.postgres.start();
      case 'relay':
      case 'computer': {
        const known = this.agents.get(agent ?? RELAY);
        if (!known) throw new Error(`no agent ${agent}`);
        return this.startAgent(known.options);
      }
    }
  }

  /** An admin request; undefined when the api cannot answer (it, or what it needs, is down). */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T } | undefined> {
    try {
      const response = await fetch(`${this.apiUrl}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    } catch {
      return undefined;
    }
  }

  /** Uploads a package (multipart), returning its id. */
  async upload(manifest: Record<string, unknown>, content: Buffer): Promise<string> {
    const form = new FormData();
    form.append('manifest', JSON.stringify(manifest));
    form.append('content', new Blob([content]), 'chaos.bin');
    const response = await fetch(`${this.apiUrl}/api/v1/packages`, { method: 'POST', headers: { authorization: `Bearer ${this.adminToken}` }, body: form });
    const body = (await response.json()) as { id?: string };
    if (response.status !== 201 || !body.id) throw new Error(`upload refused with HTTP ${response.status}: ${JSON.stringify(body)}`);
    return body.id;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.agents.values()].map(({ process }) => process.stop()));
    await this.worker?.stop();
    await this.api?.stop();
    await this.temporal?.stop();
    await this.postgres.stop();
  }

  private logFile(name: string): string {
    return join(this.folder, 'logs', `${name}.log`);
  }

  private async startTemporal(): Promise<void> {
    this.temporal = await startDevServer({
      port: this.temporalPort,
      dbFile: join(this.folder, 'temporal.db'),
      sqlitePragmas: { journal_mode: 'WAL', synchronous: 'NORMAL' },
      logFile: createWriteStream(this.logFile('temporal'), { flags: 'a' }),
    });
  }

  private async startApi(): Promise<void> {
    const { process: api, url } = await startApi(this.env, this.logFile('api'));
    this.api = api;
    this.apiUrl = url;
  }

  private async startWorker(): Promise<void> {
    this.worker = await startWorker(this.env, this.logFile('worker'));
  }

  private async startAgent(options: Pick<AgentOptions, 'role' | 'name' | 'relay'> & Partial<AgentOptions>): Promise<void> {
    const full: AgentOptions = {
      serverUrl: this.apiUrl,
      enrollSecret: this.enrollSecret,
      dataDir: this.agentFolder(options.name),
      port: options.port ?? (await freePort()),
      ...options,
    };
    const launched = launchAgent(full, this.env, this.logFile(options.name));
    this.agents.set(options.name, { options: full, process: launched.process });
    await launched.ready;
  }
}
