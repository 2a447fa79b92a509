/**
 * The managing server as agents see it, small enough to run inside a unit test: it enrols agents, serves
 * package content, takes users' offer choices and computers' reports of their install orders, builds and
 * signs real packages, and seals and sends orders with a real server key. Outcomes are awaited by
 * re-sending an order, which is how the real managing server asks an agent how it is getting on when its
 * reports have gone silent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { unpack } from 'msgpackr';
import * as tar from 'tar';
import type { InstallConditions } from '../../common/conditions.js';
import type { SignedManifest } from '../../common/manifest.js';
import {
  finalOrderStates,
  ORDER_CONTENT_TYPE,
  type Order,
  type OrderRefusal,
  type OrderReport,
  type OrderStatus,
} from '../../common/orders.js';
import { sealOrder } from '../../trust/orders.js';
import { loadOrCreateServerKey, signManifest, type ServerKey } from '../../trust/signing.js';
import { Agent, type AgentOptions, type ListenOptions } from '../../agent/agent.js';
import { systemClock } from '../../agent/deps.js';

export const ENROLL_SECRET = 'test-enrol-secret';

/** The times of an order issued now and valid for `validForMs` (an hour by default). */
export function issuedNow(validForMs = 3_600_000): { issuedAt: string; validUntil: string } {
  const now = Date.now();
  return { issuedAt: new Date(now).toISOString(), validUntil: new Date(now + validForMs).toISOString() };
}

/** An enrolled agent, as the server remembers it. */
export interface Enrolled {
  id: string;
  token: string;
  url: string;
}

/** A package built for a test, signed and served by the fake server. */
export interface TestPackage {
  signed: SignedManifest;
  packageId: string;
  /** The served file; tests overwrite it to play a tampered source. */
  path: string;
  bytes: Buffer;
}

/** An offer choice an agent passed on, with the credentials it used. */
export interface ReceivedChoice {
  jobId: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** A report of an install order a computer sent, with its credentials and how it was answered. */
export interface ReceivedReport {
  jobId: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: OrderReport;
  /** The HTTP status it was answered with; undefined while it waits at `reportGate`. */
  answeredWith?: number;
  /** When it arrived (Date.now()). */
  at: number;
}

/** An order's answer: a status, or a refusal. */
export interface OrderReply {
  status: number;
  body: OrderStatus & OrderRefusal;
}

/** See the file comment. */
export class FakeManagingServer {
  readonly enrolled = new Map<string, Enrolled>();
  /** packageId → the file served as its content. */
  readonly content = new Map<string, string>();
  /** Every content request: which package and which Range header. */
  readonly contentRequests: { packageId: string; range: string | undefined }[] = [];
  /** The package of every content request whose client hung up before it was answered in full. */
  readonly abandoned: string[] = [];
  /** Packages whose content is served only half-way, the connection then left hanging (a stalled network). */
  readonly stalled = new Set<string>();
  readonly choices: ReceivedChoice[] = [];
  /** jobId → the answer to give to choices for that job instead of 202. */
  readonly choiceAnswers = new Map<string, { status: number; body: unknown }>();
  readonly reports: ReceivedReport[] = [];
  /** Every check-in, by agent name, as the api records them: where the agent is, and what it runs. */
  readonly checkIns: { name: string; url: string; agentVersion: string; os: string }[] = [];
  /** Relays' bandwidth limits by name, as PATCH /relays/:id sets them; check-ins answer them. */
  readonly bandwidthLimits = new Map<string, number>();
  /** jobId → the status to answer reports for that job with instead of 202 (a 503 outage, a 404 job gone). */
  readonly reportAnswers = new Map<string, number>();
  /** While set, the server signs with this key instead of `key` at enrolment: its key was replaced. */
  offeredKey: ServerKey | undefined;
  /** While set, reports are answered only once it resolves (a slow server). */
  reportGate: Promise<void> | undefined;
  /** While set, choices are answered only once it resolves (a slow server). */
  choiceGate: Promise<void> | undefined;
  /** While set, content requests are answered only once it resolves (a slow download). */
  contentGate: Promise<void> | undefined;
  url = '';
  private server: Server | undefined;
  private packageCount = 0;

  /** `workDir` receives the built packages. */
  constructor(
    readonly key: ServerKey,
    private readonly workDir: string,
  ) {}

  /** A started server with a fresh temporary folder (its key and built packages live there). */
  static async startInTempDir(prefix: string): Promise<{ server: FakeManagingServer; base: string }> {
    const base = await mkdtemp(join(tmpdir(), prefix));
    const server = new FakeManagingServer(await loadOrCreateServerKey(join(base, 'server-key.pem')), base);
    await server.start();
    return { server, base };
  }

  async start(port = 0): Promise<void> {
    const app = express();
    app.post('/api/v1/enroll', express.json(), (req, res) => {
      if (req.get('authorization') !== `Bearer ${ENROLL_SECRET}`) {
        res.status(401).json({ error: { code: 'unauthorized', message: 'wrong enrolment secret' } });
        return;
      }
      const { name, url, serverKeyId } = req.body as { name: string; url: string; serverKeyId?: string };
      const offered = this.offeredKey ?? this.key;
      // As the api: an agent that trusts another key is refused before anything changes.
      if (serverKeyId !== undefined && serverKeyId !== offered.keyId) {
        res.status(409).json({ error: { code: 'server_key_changed', message: `this server signs with key ${offered.keyId}` } });
        return;
      }
      const known = this.enrolled.get(name);
      // As the api: a name already enrolled needs its current token.
      if (known && req.get('x-courier-agent-token') !== known.token) {
        res.status(409).json({ error: { code: 'already_enrolled', message: `"${name}" is already enrolled` } });
        return;
      }
      const id = known?.id ?? `agent-${this.enrolled.size + 1}`;
      const token = randomBytes(16).toString('hex');
      this.enrolled.set(name, { id, token, url });
      res.json({ id, token, serverPublicKey: offered.publicKeyPem });
    });
    app.get('/api/v1/packages/:packageId/content', async (req, res) => {
      const path = this.content.get(req.params.packageId);
      if (!this.agentWithToken(req.get('authorization'))) {
        res.status(401).json({ error: { code: 'unauthorized', message: 'unknown agent token' } });
      } else if (!path) {
        res.status(404).json({ error: { code: 'not_found', message: 'no such package' } });
      } else {
        this.contentRequests.push({ packageId: req.params.packageId, range: req.get('range') });
        res.once('close', () => {
          if (!res.writableFinished) this.abandoned.push(req.params.packageId);
        });
        await this.contentGate;
        if (this.stalled.has(req.params.packageId)) {
          void readFile(path).then((bytes) => {
            res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
            res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
          });
          return;
        }
        res.sendFile(path);
      }
    });
    app.post('/api/v1/jobs/:jobId/choices', express.json(), async (req, res) => {
      const { jobId } = req.params;
      const authorization = req.get('authorization');
      this.choices.push({ jobId, authorization, contentType: req.get('content-type'), body: req.body });
      await this.choiceGate;
      const agent = this.agentWithToken(authorization);
      if (!agent) {
        res.status(401).json({ error: { code: 'unauthorized', message: 'unknown agent token' } });
        return;
      }
      const answer = this.choiceAnswers.get(jobId) ?? {
        status: 202,
        body: { jobId, computerId: agent.id, choice: (req.body as { choice: string }).choice },
      };
      res.status(answer.status).json(answer.body);
    });
    app.post('/api/v1/check-in', express.json(), (req, res) => {
      const agent = this.agentWithToken(req.get('authorization'));
      if (!agent) {
        res.status(401).json({ error: { code: 'invalid_token', message: 'unknown token' } });
        return;
      }
      const name = [...this.enrolled].find(([, enrolled]) => enrolled === agent)?.[0] ?? '';
      this.checkIns.push({ name, ...(req.body as { url: string; agentVersion: string; os: string }) });
      res.json({ id: agent.id, checkInEveryMs: 300_000, bandwidthLimit: this.bandwidthLimits.get(name) ?? null });
    });
    app.post('/api/v1/jobs/:jobId/reports', express.json(), async (req, res) => {
      const { jobId } = req.params;
      const authorization = req.get('authorization');
      const received: ReceivedReport = { jobId, authorization, contentType: req.get('content-type'), body: req.body as OrderReport, at: Date.now() };
      this.reports.push(received);
      await this.reportGate;
      const answeredWith = !this.agentWithToken(authorization) ? 401 : (this.reportAnswers.get(jobId) ?? 202);
      received.answeredWith = answeredWith;
      if (answeredWith === 202) res.status(202).end();
      else res.status(answeredWith).json({ error: { code: 'refused', message: `the test answers HTTP ${answeredWith}` } });
    });
    this.server = app.listen(port, '127.0.0.1');
    await new Promise((resolve) => this.server?.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  idOf(name: string): string {
    return this.agent(name).id;
  }

  tokenOf(name: string): string {
    return this.agent(name).token;
  }

  /** The reports received for one job, in the order they arrived. */
  reportsFor(jobId: string): ReceivedReport[] {
    return this.reports.filter((report) => report.jobId === jobId);
  }

  requestsFor(packageId: string): { packageId: string; range: string | undefined }[] {
    return this.contentRequests.filter((request) => request.packageId === packageId);
  }

  /** Builds a real .tar.gz holding `files`, signs its manifest (with `key`, by default the server's) and serves it. */
  async makePackage(options: {
    installCommand: string;
    files?: Record<string, string>;
    conditions?: InstallConditions;
    timeoutSeconds?: number;
    key?: ServerKey;
    name?: string;
    version?: string;
  }): Promise<TestPackage> {
    this.packageCount += 1;
    const packageId = `pkg-${this.packageCount}`;
    const source = join(this.workDir, 'sources', packageId);
    await mkdir(source, { recursive: true });
    for (const [name, text] of Object.entries(options.files ?? { 'hello.txt': `hello from ${packageId}\n` })) {
      await writeFile(join(source, name), text);
    }
    const path = join(this.workDir, 'sources', `${packageId}.tar.gz`);
    await tar.c({ gzip: true, file: path, cwd: source }, ['.']);
    const bytes = await readFile(path);
    const signed = signManifest(options.key ?? this.key, {
      packageId,
      name: options.name ?? `app-${this.packageCount}`,
      version: options.version ?? '1.0.0',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      format: 'tar.gz',
      fileName: `${packageId}.tar.gz`,
      installCommand: options.installCommand,
      timeoutSeconds: options.timeoutSeconds ?? 60,
      conditions: options.conditions ?? {},
    });
    this.content.set(packageId, path);
    return { signed, packageId, path, bytes };
  }

  /** Signs an order, as the managing server does every time it sends one. */
  seal(order: Order): Buffer {
    return sealOrder(this.key, order);
  }

  /** Sends a sealed (or deliberately unsealed) order and returns the agent's answer. */
  async send(agentUrl: string, body: Uint8Array): Promise<OrderReply> {
    const response = await fetch(`${agentUrl}/orders`, { method: 'POST', headers: { 'content-type': ORDER_CONTENT_TYPE }, body });
    return { status: response.status, body: unpack(Buffer.from(await response.arrayBuffer())) as OrderReply['body'] };
  }

  /** Re-sends an order until its status satisfies `done` (by default: a final state). */
  async follow(
    agentUrl: string,
    sealed: Uint8Array,
    done: (status: OrderStatus) => boolean = (status) => finalOrderStates.has(status.state),
  ): Promise<OrderStatus> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await this.send(agentUrl, sealed);
      if (answer.status !== 200) throw new Error(`the order was refused: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      if (done(answer.body)) return answer.body;
      if (Date.now() > deadline) throw new Error(`order still ${answer.body.state} after 30 s`);
      await sleep(25);
    }
  }

  private agent(name: string): Enrolled {
    const agent = this.enrolled.get(name);
    if (!agent) throw new Error(`${name} has not enrolled`);
    return agent;
  }

  private agentWithToken(authorization: string | undefined): Enrolled | undefined {
    return [...this.enrolled.values()].find((agent) => authorization === `Bearer ${agent.token}`);
  }
}

/** A real agent started by a test. */
export interface RunningAgent {
  name: string;
  agent: Agent;
  url: string;
  pageUrl?: string;
  dataDir: string;
}

/** Starts a real agent enrolled with `server`, on loopback unless `listen` says otherwise; quick retries, no log. */
export async function startTestAgent(
  server: FakeManagingServer,
  options: Pick<AgentOptions, 'role' | 'name' | 'dataDir'> & Partial<AgentOptions> & { listen?: Partial<ListenOptions> },
): Promise<RunningAgent> {
  const { listen, ...agentOptions } = options;
  const agent = new Agent({
    serverUrl: server.url,
    enrollSecret: ENROLL_SECRET,
    fetch: (input, init) => fetch(input, init),
    clock: systemClock,
    log: () => undefined,
    retryDelaysMs: [50, 100],
    ...agentOptions,
  });
  const { url, pageUrl } = await agent.start({ port: 0, ...listen });
  return { name: options.name, agent, url, pageUrl, dataDir: options.dataDir };
}
