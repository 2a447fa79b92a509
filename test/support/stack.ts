/**
 * A whole Courier for one integration test file, as real processes: api and worker on the suite's Temporal
 * dev server and a PostgreSQL database of the file's own, plus agents started on demand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { launchAgent, startApi, startWorker, type AgentOptions, type ProgramSource } from '../../scripts/lib/courier-processes.js';
import type { ManagedProcess } from '../../scripts/lib/processes.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from '../../common/ports.js';
import { eventually, uniqueTaskQueue } from './temporal.js';

export const ADMIN_TOKEN = 'test-admin-token';

const finalJobStatuses = ['completed', 'completed_with_errors', 'cancelled', 'failed'];

/** A job view's targets as name → state, the shape assertions read best in. */
export function targetStates(job: { targets: { name: string; state: string }[] }): Record<string, string> {
  return Object.fromEntries(job.targets.map((target) => [target.name, target.state]));
}
export const ENROLL_SECRET = 'test-enroll-secret';

export interface RunningAgent {
  name: string;
  url: string;
  /** The self-service page, when the agent was started with one. */
  pageUrl?: string;
  dataDir: string;
  process: ManagedProcess;
}

/** What a test says about an agent to start; `env` adds to (or replaces) the stack's environment. */
export type StackAgentOptions = Pick<AgentOptions, 'role' | 'name' | 'relay' | 'labels'> & { page?: boolean; serverUrl?: string; env?: NodeJS.ProcessEnv };

/**
 * How a test wants its stack: more environment for every process, the fetch its admin requests use,
 * whether the api and the worker run from a production build (its folder) rather than the sources, and a
 * folder where every process writes all it prints (`api.log`, `worker.log`, `<agent name>.log`).
 */
export interface StackOptions {
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  source?: ProgramSource;
  logDir?: string;
}

export class TestStack {
  readonly agents = new Map<string, RunningAgent>();
  /** Every agent process started, enrolled or not, so stop() leaves none behind. */
  private readonly agentProcesses = new Set<ManagedProcess>();

  private constructor(
    readonly database: TestDatabase,
    readonly dataDir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly apiUrl: string,
    private api: ManagedProcess,
    private worker: ManagedProcess,
    /** What admin requests go through: fetch, or one that trusts the stack's own certificate. */
    readonly fetch: typeof globalThis.fetch,
    private readonly source: ProgramSource,
    private readonly logDir: string | undefined,
  ) {}

  static async start(options: StackOptions = {}): Promise<TestStack> {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'courier-stack-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      COURIER_TASK_QUEUE: uniqueTaskQueue('integration'),
      COURIER_API_PORT: String(await freePort()),
      COURIER_WORKER_METRICS_PORT: String(await freePort()),
      COURIER_DATA_DIR: join(dataDir, 'server'),
      COURIER_ADMIN_TOKEN: ADMIN_TOKEN,
      COURIER_ENROLL_SECRET: ENROLL_SECRET,
      COURIER_AGENT_POLL_MS: '250',
      // Computers repeat their reports this often: one that goes silent is asked after 3 s.
      COURIER_REPORT_EVERY_MS: '1000',
      ...options.env,
    };
    const source = options.source ?? {};
    const { logDir } = options;
    const api = await startApi(env, logDir && join(logDir, 'api.log'), source);
    try {
      const worker = await startWorker(env, logDir && join(logDir, 'worker.log'), source);
      return new TestStack(database, dataDir, env, api.url, api.process, worker, options.fetch ?? fetch, source, logDir);
    } catch (error) {
      await api.process.stop();
      await database.drop();
      throw error;
    }
  }

  /**
   * Starts (or restarts, keeping its data folder) an agent enrolled with this stack. `serverUrl` puts
   * something between the agent and the api (test/support/api-proxy.ts).
   */
  async startAgent(options: StackAgentOptions): Promise<RunningAgent> {
    return this.launchAgent(options).ready;
  }

  /** Starts an agent without waiting for it to enrol: `ready` resolves once it has. */
  launchAgent(options: StackAgentOptions): { process: ManagedProcess; ready: Promise<RunningAgent> } {
    const dataDir = join(this.dataDir, 'agents', options.name);
    const { page, serverUrl, env, ...agentOptions } = options;
    const launched = launchAgent(
      { ...agentOptions, serverUrl: serverUrl ?? this.apiUrl, enrollSecret: ENROLL_SECRET, dataDir, ...(page && { uiPort: 0 }) },
      { ...this.env, ...env },
      this.logDir && join(this.logDir, `${options.name}.log`),
    );
    this.agentProcesses.add(launched.process);
    const ready = launched.ready.then(({ url, pageUrl }) => {
      const agent = { name: options.name, url, pageUrl, dataDir, process: launched.process };
      this.agents.set(options.name, agent);
      return agent;
    });
    return { process: launched.process, ready };
  }

  /** An admin request; the body, when given, is sent as JSON. */
  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await this.fetch(`${this.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * Kills the api without warning, as a crash would, and starts a fresh one on the same port once
   * `whileDown` (if given) has run.
   */
  async crashApi(whileDown?: () => Promise<void>): Promise<void> {
    await this.api.kill();
    await whileDown?.();
    this.api = (await startApi(this.env, this.logDir && join(this.logDir, 'api.log'), this.source)).process;
  }

  /** Kills the worker without warning, as a crash would, and starts a fresh one. */
  async crashWorker(): Promise<void> {
    await this.worker.kill();
    this.worker = await startWorker(this.env, this.logDir && join(this.logDir, 'worker.log'), this.source);
  }

  /** Waits for a job to reach a final status and returns its view. */
  async finishedJob(id: string, timeoutMs = 60_000): Promise<any> {
    return eventually(
      async () => {
        const { body } = await this.request('GET', `/jobs/${id}`);
        return finalJobStatuses.includes(body.status) ? body : undefined;
      },
      timeoutMs,
      `job ${id} to finish`,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agentProcesses].map((agent) => agent.stop()));
    await this.worker.stop();
    await this.api.stop();
    await this.database.drop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
