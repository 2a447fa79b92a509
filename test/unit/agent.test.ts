/**
 * Real agents (a relay and computers) on loopback, driven by a small in-test managing server that enrols
 * them, serves package content and signs their orders with a real server key. Outcomes are awaited by
 * re-sending the order, which is how the managing server itself asks an agent how it is getting on.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pack, unpack } from 'msgpackr';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstallConditions } from '../../common/conditions.js';
import type { SignedManifest } from '../../common/manifest.js';
import {
  finalOrderStates,
  ORDER_CONTENT_TYPE,
  type DownloadSource,
  type Order,
  type OrderRefusal,
  type OrderStatus,
} from '../../common/orders.js';
import { sealOrder, signTicket } from '../../trust/orders.js';
import { loadOrCreateServerKey, signManifest, type ServerKey } from '../../trust/signing.js';
import { Agent, type AgentOptions } from '../../agent/agent.js';
import { systemClock } from '../../agent/deps.js';
import { startAgent as startAgentProcess } from '../../scripts/lib/courier-processes.js';
import { freePort } from '../support/ports.js';

const ENROLL_SECRET = 'test-enrol-secret';

interface Enrolled {
  id: string;
  token: string;
  url: string;
}

/** The managing server, as far as agents see it: enrolment and package content. */
class FakeServer {
  readonly enrolled = new Map<string, Enrolled>();
  /** packageId → the file served as its content. */
  readonly content = new Map<string, string>();
  /** Every content request: which package and which Range header. */
  readonly contentRequests: { packageId: string; range: string | undefined }[] = [];
  url = '';
  private server: Server | undefined;

  constructor(readonly key: ServerKey) {}

  /** Packages whose content is served only half-way, the connection then left hanging (a stalled network). */
  readonly stalled = new Set<string>();

  async start(port = 0): Promise<void> {
    const app = express();
    app.post('/api/v1/enroll', express.json(), (req, res) => {
      if (req.get('authorization') !== `Bearer ${ENROLL_SECRET}`) {
        res.status(401).json({ error: { code: 'unauthorized', message: 'wrong enrolment secret' } });
        return;
      }
      const { name, url } = req.body as { name: string; url: string };
      const id = this.enrolled.get(name)?.id ?? `agent-${this.enrolled.size + 1}`;
      const token = randomBytes(16).toString('hex');
      this.enrolled.set(name, { id, token, url });
      res.json({ id, token, serverPublicKey: this.key.publicKeyPem });
    });
    app.get('/api/v1/packages/:packageId/content', (req, res) => {
      const token = req.get('authorization')?.replace(/^Bearer /, '');
      const path = this.content.get(req.params.packageId);
      if (![...this.enrolled.values()].some((agent) => agent.token === token)) {
        res.status(401).json({ error: { code: 'unauthorized', message: 'unknown agent token' } });
      } else if (!path) {
        res.status(404).json({ error: { code: 'not_found', message: 'no such package' } });
      } else {
        this.contentRequests.push({ packageId: req.params.packageId, range: req.get('range') });
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
    this.server = app.listen(port, '127.0.0.1');
    await new Promise((resolve) => this.server?.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  idOf(name: string): string {
    const agent = this.enrolled.get(name);
    if (!agent) throw new Error(`${name} has not enrolled`);
    return agent.id;
  }

  requestsFor(packageId: string): { packageId: string; range: string | undefined }[] {
    return this.contentRequests.filter((request) => request.packageId === packageId);
  }
}

let base: string;
let server: FakeServer;
let relay: RunningAgent;
let packageCount = 0;

interface RunningAgent {
  name: string;
  agent: Agent;
  url: string;
  dataDir: string;
}

async function startAgent(
  role: 'relay' | 'computer',
  name: string,
  extra: Partial<AgentOptions> = {},
): Promise<RunningAgent> {
  const dataDir = extra.dataDir ?? join(base, name);
  const agent = new Agent({
    role,
    name,
    dataDir,
    serverUrl: server.url,
    enrollSecret: ENROLL_SECRET,
    fetch: (input, init) => fetch(input, init),
    clock: systemClock,
    log: () => undefined,
    retryDelaysMs: [50, 100],
    ...extra,
  });
  const url = await agent.start({ port: 0 });
  return { name, agent, url, dataDir };
}

interface TestPackage {
  signed: SignedManifest;
  packageId: string;
  path: string;
  bytes: Buffer;
}

/** Builds a real .tar.gz holding `files`, signs its manifest and lets the fake server serve it. */
async function makePackage(options: {
  installCommand: string;
  files?: Record<string, string>;
  conditions?: InstallConditions;
  timeoutSeconds?: number;
  key?: ServerKey;
}): Promise<TestPackage> {
  packageCount += 1;
  const packageId = `pkg-${packageCount}`;
  const source = join(base, 'sources', packageId);
  await mkdir(source, { recursive: true });
  for (const [name, text] of Object.entries(options.files ?? { 'hello.txt': `hello from ${packageId}\n` })) {
    await writeFile(join(source, name), text);
  }
  const path = join(base, 'sources', `${packageId}.tar.gz`);
  await tar.c({ gzip: true, file: path, cwd: source }, ['.']);
  const bytes = await readFile(path);
  const signed = signManifest(options.key ?? server.key, {
    packageId,
    name: `app-${packageCount}`,
    version: '1.0.0',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    format: 'tar.gz',
    fileName: `${packageId}.tar.gz`,
    installCommand: options.installCommand,
    timeoutSeconds: options.timeoutSeconds ?? 60,
    conditions: options.conditions ?? {},
  });
  server.content.set(packageId, path);
  return { signed, packageId, path, bytes };
}

async function post(agentUrl: string, body: Uint8Array): Promise<{ status: number; body: OrderStatus & OrderRefusal }> {
  const response = await fetch(`${agentUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': ORDER_CONTENT_TYPE },
    body,
  });
  return { status: response.status, body: unpack(Buffer.from(await response.arrayBuffer())) as OrderStatus & OrderRefusal };
}

/** Re-sends an order until its status satisfies `done` (by default: a final state). */
async function until(
  agentUrl: string,
  sealed: Uint8Array,
  done: (status: OrderStatus) => boolean = (status) => finalOrderStates.has(status.state),
): Promise<OrderStatus> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await post(agentUrl, sealed);
    expect(answer.status).toBe(200);
    if (done(answer.body)) return answer.body;
    if (Date.now() > deadline) throw new Error(`order still ${answer.body.state} after 30 s`);
    await sleep(25);
  }
}

function issued(): string {
  return new Date().toISOString();
}

function storeOrder(pkg: TestPackage, jobId: string, expiresAt = new Date(Date.now() + 3_600_000).toISOString()): Buffer {
  const order: Order = {
    kind: 'store',
    jobId,
    agentId: server.idOf(relay.name),
    issuedAt: issued(),
    package: pkg.signed,
    sourceUrl: `${server.url}/api/v1/packages/${pkg.packageId}/content`,
    expiresAt,
  };
  return sealOrder(server.key, order);
}

function ticketFor(pkg: TestPackage, computer = 'any-computer'): string {
  return signTicket(server.key, { packageId: pkg.packageId, computerId: computer, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
}

function viaRelay(pkg: TestPackage): DownloadSource {
  return { url: `${relay.url}/packages/${pkg.packageId}/content`, via: 'relay', ticket: ticketFor(pkg) };
}

function viaServer(pkg: TestPackage): DownloadSource {
  return { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server', ticket: '' };
}

function installOrder(computer: RunningAgent, pkg: TestPackage, jobId: string, source: DownloadSource): Buffer {
  const order: Order = { kind: 'install', jobId, agentId: server.idOf(computer.name), issuedAt: issued(), package: pkg.signed, source };
  return sealOrder(server.key, order);
}

/** Has the relay store `pkg` and waits until it has. */
async function storeOnRelay(pkg: TestPackage, jobId: string): Promise<OrderStatus> {
  return until(relay.url, storeOrder(pkg, jobId));
}

function relayContent(pkg: TestPackage, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${relay.url}/packages/${pkg.packageId}/content`, { headers });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'courier-agent-'));
  server = new FakeServer(await loadOrCreateServerKey(join(base, 'server-key.pem')));
  await server.start();
  relay = await startAgent('relay', 'relay-1', { sweepIntervalMs: 100 });
});

afterAll(async () => {
  await relay?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('relay', () => {
  it('stores a package after verifying it and serves it to holders of a ticket, with Range', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const stored = await storeOnRelay(pkg, 'job-store-1');
    expect(stored).toMatchObject({ state: 'stored', kind: 'store', jobId: 'job-store-1', bytes: pkg.bytes.length });

    const whole = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(pkg.bytes)).toBe(true);

    const part = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg), range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(pkg.bytes.subarray(10, 20))).toBe(true);

    expect((await relayContent(pkg)).status).toBe(403);
    const other = await makePackage({ installCommand: 'true' });
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(other) })).status).toBe(403);
  });

  it('answers a store order for a copy it holds intact with that expiry at once, fetching nothing', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    expect(await until(relay.url, storeOrder(pkg, 'job-first', expiresAt))).toMatchObject({ state: 'stored', bytes: pkg.bytes.length });
    const again = await post(relay.url, storeOrder(pkg, 'job-second', expiresAt));
    expect(again.body).toMatchObject({ state: 'stored', expiresAt, bytes: 0 });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
  });

  it('fetches the package again for a store order with another expiry (a retransfer)', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    await storeOnRelay(pkg, 'job-transfer-1');
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const retransfer = await until(relay.url, storeOrder(pkg, 'job-transfer-2', later));
    expect(retransfer).toMatchObject({ state: 'stored', expiresAt: later, bytes: pkg.bytes.length });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(2);
    const metadata = JSON.parse(await readFile(join(relay.dataDir, 'packages', `${pkg.packageId}.json`), 'utf8')) as { expiresAt: string };
    expect(metadata.expiresAt).toBe(later);
  });

  it('resumes an interrupted transfer with Range', async () => {
    const pkg = await makePackage({ installCommand: 'true', files: { 'big.bin': randomBytes(64 * 1024).toString('hex') } });
    const half = Math.floor(pkg.bytes.length / 2);
    await writeFile(join(relay.dataDir, 'packages', `${pkg.packageId}.partial`), pkg.bytes.subarray(0, half));
    expect(await storeOnRelay(pkg, 'job-resume')).toMatchObject({ state: 'stored' });
    expect(server.requestsFor(pkg.packageId)).toEqual([{ packageId: pkg.packageId, range: `bytes=${half}-` }]);
    const served = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(Buffer.from(await served.arrayBuffer()).equals(pkg.bytes)).toBe(true);
  });

  it('fails a transfer whose content does not match the signed manifest, keeping nothing', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    await writeFile(pkg.path, Buffer.alloc(pkg.bytes.length, 7));
    const status = await storeOnRelay(pkg, 'job-bad-transfer');
    expect(status.state).toBe('failed');
    expect(status.detail).toMatch(/SHA-256 .* does not match the signed manifest/);
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) })).status).toBe(404);
  });

  it('never serves a copy damaged on its disk: it fetches the package again, or drops the copy when it cannot', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    await storeOnRelay(pkg, 'job-to-damage');
    const contentPath = join(relay.dataDir, 'packages', `${pkg.packageId}.content`);
    const damage = async () => {
      const bytes = await readFile(contentPath);
      bytes[100] = (bytes[100] as number) ^ 0xff;
      await writeFile(contentPath, bytes);
    };
    await damage();
    const repaired = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(repaired.status).toBe(200);
    expect(Buffer.from(await repaired.arrayBuffer()).equals(pkg.bytes)).toBe(true);
    expect(server.requestsFor(pkg.packageId)).toHaveLength(2);

    // The source now serves something else too: nothing true is left to serve.
    await damage();
    await writeFile(pkg.path, Buffer.alloc(pkg.bytes.length, 3));
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) })).status).toBe(404);
    expect(await exists(contentPath)).toBe(false);
    expect(await exists(join(relay.dataDir, 'packages', `${pkg.packageId}.json`))).toBe(false);
  });

  it('deletes a copy when told to, and answers deleted when it holds none', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    await storeOnRelay(pkg, 'job-keep');
    const deleteOrder = (jobId: string) =>
      sealOrder(server.key, { kind: 'delete', jobId, agentId: server.idOf(relay.name), issuedAt: issued(), packageId: pkg.packageId });
    expect((await post(relay.url, deleteOrder('job-delete'))).body).toMatchObject({ state: 'deleted', detail: 'the copy was deleted' });
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) })).status).toBe(404);
    expect((await post(relay.url, deleteOrder('job-delete-again'))).body).toMatchObject({ state: 'deleted', detail: 'the relay held no copy' });
  });

  it('deletes a copy once its expiry has passed', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    expect(await until(relay.url, storeOrder(pkg, 'job-short-lived', expiresAt))).toMatchObject({ state: 'stored', expiresAt });
    const metadata = join(relay.dataDir, 'packages', `${pkg.packageId}.json`);
    expect(await exists(metadata)).toBe(true);
    const deadline = Date.now() + 10_000;
    while ((await exists(metadata)) && Date.now() < deadline) await sleep(50);
    expect(await exists(metadata)).toBe(false);
  });

  it('keeps its copies and their expiry across a restart', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await until(relay.url, storeOrder(pkg, 'job-before-restart', expiresAt));
    await relay.agent.stop();
    relay = await startAgent('relay', 'relay-1', { sweepIntervalMs: 100 });
    const served = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(Buffer.from(await served.arrayBuffer()).equals(pkg.bytes)).toBe(true);
    expect((await post(relay.url, storeOrder(pkg, 'job-after-restart', expiresAt))).body).toMatchObject({ state: 'stored', bytes: 0 });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
  });

  it('refuses install orders, which are for computers', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const order: Order = { kind: 'install', jobId: 'job-x', agentId: server.idOf(relay.name), issuedAt: issued(), package: pkg.signed, source: viaServer(pkg) };
    const answer = await post(relay.url, sealOrder(server.key, order));
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('wrong_role');
  });
});

describe('computer', () => {
  let computer: RunningAgent;

  beforeAll(async () => {
    computer = await startAgent('computer', 'pc-1', { relayName: relay.name });
  });

  afterAll(async () => {
    await computer?.agent.stop();
  });

  it('installs a .tar.gz from its relay; the install command writes into COURIER_TARGET_DIR', async () => {
    const pkg = await makePackage({
      installCommand: 'cp hello.txt "$COURIER_TARGET_DIR/hello-$COURIER_PACKAGE_NAME.txt" && echo "installed $COURIER_PACKAGE_VERSION by $COURIER_JOB_ID"',
    });
    await storeOnRelay(pkg, 'job-stage');
    const status = await until(computer.url, installOrder(computer, pkg, 'job-install', viaRelay(pkg)));
    expect(status).toMatchObject({ state: 'installed', exitCode: 0, outputTail: 'installed 1.0.0 by job-install\n' });
    const installedFile = join(computer.dataDir, 'root', `hello-${pkg.signed.manifest.name}.txt`);
    expect(await readFile(installedFile, 'utf8')).toBe(`hello from ${pkg.packageId}\n`);
    const installed = JSON.parse(await readFile(join(computer.dataDir, 'installed.json'), 'utf8')) as Record<string, { jobId: string }>;
    expect(installed[pkg.packageId]).toMatchObject({ name: pkg.signed.manifest.name, version: '1.0.0', jobId: 'job-install' });
  });

  it('answers a repeated order with the recorded result and never runs the command twice, also after a restart', async () => {
    const pkg = await makePackage({ installCommand: 'echo run >> "$COURIER_TARGET_DIR/runs.log"' });
    const order = installOrder(computer, pkg, 'job-once', viaServer(pkg));
    const first = await until(computer.url, order);
    expect(first.state).toBe('installed');
    expect((await post(computer.url, order)).body).toEqual(first);

    const otherJob = await post(computer.url, installOrder(computer, pkg, 'job-twice', viaServer(pkg)));
    expect(otherJob.body).toMatchObject({ state: 'installed', detail: 'already installed by job job-once' });

    await computer.agent.stop();
    computer = await startAgent('computer', 'pc-1', { relayName: relay.name });
    expect((await post(computer.url, installOrder(computer, pkg, 'job-once', viaServer(pkg)))).body).toEqual(first);
    expect(await readFile(join(computer.dataDir, 'root', 'runs.log'), 'utf8')).toBe('run\n');
  });

  it('resumes an unfinished download with Range after a restart', async () => {
    const pkg = await makePackage({
      installCommand: 'cp big.bin "$COURIER_TARGET_DIR/resumed.bin"',
      files: { 'big.bin': randomBytes(128 * 1024).toString('hex') },
    });
    server.stalled.add(pkg.packageId);
    const order = installOrder(computer, pkg, 'job-resumed', viaServer(pkg));
    await until(computer.url, order, (status) => status.state === 'downloading' && (status.bytes ?? 0) > 0);
    await computer.agent.stop();
    server.stalled.delete(pkg.packageId);
    computer = await startAgent('computer', 'pc-1', { relayName: relay.name });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-resumed', viaServer(pkg)));
    expect(status.state).toBe('installed');
    const [first, second] = server.requestsFor(pkg.packageId);
    expect(first?.range).toBeUndefined();
    expect(second?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('keeps its identity readable by its own user only', async () => {
    const identityPath = join(computer.dataDir, 'identity.json');
    expect((await stat(identityPath)).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(await readFile(identityPath, 'utf8')) as { id: string; token: string };
    expect(identity.id).toBe(server.idOf('pc-1'));
    expect(identity.token).toBe(server.enrolled.get('pc-1')?.token);
  });

  it('reports a failing install command with its exit code and output', async () => {
    const pkg = await makePackage({ installCommand: 'echo "disk on fire" >&2; exit 3' });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-exit-3', viaServer(pkg)));
    expect(status).toMatchObject({ state: 'failed', detail: 'install command exited with code 3', exitCode: 3, outputTail: 'disk on fire\n' });
  });

  it('kills an install command that outlives its timeout', async () => {
    const pkg = await makePackage({ installCommand: 'sleep 30', timeoutSeconds: 1 });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-slow', viaServer(pkg)));
    expect(status).toMatchObject({ state: 'failed', detail: 'install command timed out after 1s' });
  });

  it('rejects content that does not match the signed manifest, extracting and running nothing', async () => {
    const pkg = await makePackage({ installCommand: 'touch "$COURIER_TARGET_DIR/tampered-ran"' });
    await writeFile(pkg.path, Buffer.alloc(pkg.bytes.length, 9));
    const status = await until(computer.url, installOrder(computer, pkg, 'job-tampered', viaServer(pkg)));
    expect(status.state).toBe('rejected');
    expect(status.detail).toMatch(/content SHA-256 .* does not match the signed manifest's/);
    expect(await exists(join(computer.dataDir, 'root', 'tampered-ran'))).toBe(false);
    expect(await exists(join(computer.dataDir, 'work', 'job-tampered'))).toBe(false);
  });

  it('rejects a manifest the managing server did not sign', async () => {
    const otherKey = await loadOrCreateServerKey(join(base, 'impostor-key.pem'));
    const pkg = await makePackage({ installCommand: 'touch "$COURIER_TARGET_DIR/impostor-ran"', key: otherKey });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-impostor', viaServer(pkg)));
    expect(status).toMatchObject({ state: 'rejected' });
    expect(status.detail).toMatch(/signature does not verify/);
    expect(await exists(join(computer.dataDir, 'root', 'impostor-ran'))).toBe(false);
  });

  it('does not install when a condition is not met, and says which', async () => {
    const pkg = await makePackage({
      installCommand: 'touch "$COURIER_TARGET_DIR/conditions-ran"',
      conditions: { requires: [{ name: 'runtime', version: '>=2.1' }], minFreeDiskMb: 1 },
    });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-conditions', viaServer(pkg)));
    expect(status).toMatchObject({ state: 'conditions_not_met', detail: 'requires runtime >=2.1, which is not installed' });
    expect(await exists(join(computer.dataDir, 'root', 'conditions-ran'))).toBe(false);
  });

  it('records an install cut off by the agent stopping as interrupted, and does not rerun it', async () => {
    const pkg = await makePackage({ installCommand: 'echo started >> "$COURIER_TARGET_DIR/interrupted.log"; sleep 30' });
    const order = installOrder(computer, pkg, 'job-interrupted', viaServer(pkg));
    await until(computer.url, order, (status) => status.state === 'installing');
    await computer.agent.stop();
    computer = await startAgent('computer', 'pc-1', { relayName: relay.name });
    const status = await until(computer.url, installOrder(computer, pkg, 'job-interrupted', viaServer(pkg)));
    expect(status).toMatchObject({ state: 'failed', detail: 'interrupted: the agent stopped while the install command was running' });
    expect(await readFile(join(computer.dataDir, 'root', 'interrupted.log'), 'utf8')).toBe('started\n');
  });

  it('refuses unsigned, mis-addressed and wrong-role orders', async () => {
    const pkg = await makePackage({ installCommand: 'true' });
    const order: Order = { kind: 'install', jobId: 'job-unsigned', agentId: server.idOf(computer.name), issuedAt: issued(), package: pkg.signed, source: viaServer(pkg) };
    const unsigned = await post(computer.url, pack(order));
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.error.code).toBe('unsigned');

    const elsewhere = await post(computer.url, sealOrder(server.key, { ...order, agentId: server.idOf(relay.name) }));
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error.code).toBe('wrong_agent');

    const store = sealOrder(server.key, { kind: 'delete', jobId: 'job-role', agentId: server.idOf(computer.name), issuedAt: issued(), packageId: pkg.packageId });
    const wrongRole = await post(computer.url, store);
    expect(wrongRole.status).toBe(403);
    expect(wrongRole.body.error.code).toBe('wrong_role');
    expect(server.requestsFor(pkg.packageId)).toHaveLength(0);
  });
});

describe('enrolment', () => {
  it('gives up with the server\'s message when the server refuses it', async () => {
    const attempt = startAgent('computer', 'pc-bad-secret', { enrollSecret: 'not the secret' });
    await expect(attempt).rejects.toThrow(/HTTP 401\): wrong enrolment secret/);
  });

  it('keeps trying while the server is unreachable, and enrols once it answers', async () => {
    const lateServer = new FakeServer(server.key);
    const port = await freePort();
    const logged: string[] = [];
    const late = new Agent({
      role: 'computer',
      name: 'pc-early',
      dataDir: join(base, 'pc-early'),
      serverUrl: `http://127.0.0.1:${port}`,
      enrollSecret: ENROLL_SECRET,
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      log: (line) => logged.push(line),
    });
    const started = late.start({ port: 0 });
    try {
      while (!logged.some((line) => line.includes('cannot enrol'))) await sleep(20);
      expect(logged.join('\n')).not.toContain(ENROLL_SECRET);
      await lateServer.start(port);
      expect(await started).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(late.id).toBe(lateServer.idOf('pc-early'));
    } finally {
      await late.stop();
      await lateServer.stop();
    }
  });
});

describe('command line', () => {
  it('prints its URL once enrolled and stops cleanly on SIGTERM', async () => {
    const { process: agent, url } = await startAgentProcess({
      role: 'computer',
      name: 'pc-cli',
      serverUrl: server.url,
      enrollSecret: ENROLL_SECRET,
      dataDir: join(base, 'pc-cli'),
      relay: relay.name,
      uiPort: 0,
    });
    expect(agent.recent).toContain(`courier agent pc-cli (computer) listening on ${url}`);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.enrolled.get('pc-cli')?.url).toBe(url);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await agent.stop();
    expect(agent.child.exitCode).toBe(0);
  });

  it('exits with 2 and says why on bad arguments', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--role', 'printer', '--name', 'x'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--role must be relay or computer, got "printer"');
    expect(result.stdout).toBe('');
  });
});
