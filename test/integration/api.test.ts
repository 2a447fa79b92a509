/**
 * The REST API against real PostgreSQL and the suite's Temporal dev server, driven over HTTP. No worker
 * runs here, so started workflows stay running (which is what lets the test see a cancel request) and
 * health reports the missing worker.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { PackageStore } from '../../api/package-store.js';
import { loadConfig } from '../../common/config.js';
import { searchAttributes } from '../../common/names.js';
import { installations, jobs, jobTargets, packages } from '../../db/schema/index.js';
import { loadOrCreateServerKey, type ServerKey } from '../../trust/signing.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const adminToken = `admin-${randomBytes(8).toString('hex')}`;
const enrollSecret = `enrol-${randomBytes(8).toString('hex')}`;
const taskQueue = `api-test-${randomBytes(4).toString('hex')}`;

let database: TestDatabase;
let dataDir: string;
let connection: Connection;
let temporal: Client;
let store: PackageStore;
let serverKey: ServerKey;
let server: Server;
let base: string;

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
  const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
  const body = (isJson ? await response.json() : await response.arrayBuffer()) as T;
  return { status: response.status, body, headers: response.headers };
}

const admin = { token: adminToken };
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

let packageBytes: Buffer;

/** A small real package: a tar.gz holding an install script. */
async function buildTarGz(): Promise<Buffer> {
  const source = await mkdtemp(join(tmpdir(), 'courier-pkg-'));
  await writeFile(join(source, 'install.sh'), '#!/bin/sh\necho installed\n'.repeat(200));
  const file = join(source, '..', `${randomBytes(4).toString('hex')}.tar.gz`);
  await createTar({ gzip: true, cwd: source, file }, ['install.sh']);
  const bytes = await readFile(file);
  await rm(source, { recursive: true });
  await rm(file);
  return bytes;
}

function uploadForm(manifest: unknown, options: { manifestLast?: boolean; fileName?: string } = {}): FormData {
  const form = new FormData();
  const content = new Blob([packageBytes]);
  const manifestText = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
  if (!options.manifestLast) form.append('manifest', manifestText);
  form.append('content', content, options.fileName ?? 'hello.tar.gz');
  if (options.manifestLast) form.append('manifest', manifestText);
  return form;
}

async function tempFiles(): Promise<string[]> {
  return existsSync(store.tempDir) ? readdir(store.tempDir) : [];
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'courier-api-'));
  const config = loadConfig({
    COURIER_DATA_DIR: dataDir,
    COURIER_ADMIN_TOKEN: adminToken,
    COURIER_ENROLL_SECRET: enrollSecret,
    COURIER_TASK_QUEUE: taskQueue,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
  });
  connection = await Connection.connect({ address: config.temporalAddress });
  temporal = new Client({ connection, namespace: config.temporalNamespace });
  store = new PackageStore(config.storeDir);
  serverKey = await loadOrCreateServerKey(config.signingKeyFile);
  const app = createApp({ db: database.db, temporal, config, serverKey, store });
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  packageBytes = await buildTarGz();
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await connection?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('api', () => {
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let pkg: { id: string; sha256: string; size: number; format: string; fileName: string };

  it('reports 503 from health while no worker polls the task queue, without a token', async () => {
    const { status, body } = await call<{ status: string; checks: Record<string, { ok: boolean; reason?: string }> }>(
      'GET',
      '/health',
    );
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.checks.database).toEqual({ ok: true });
    expect(body.checks.temporal).toEqual({ ok: true });
    expect(body.checks.worker?.ok).toBe(false);
    expect(body.checks.worker?.reason).toContain(taskQueue);
  });

  it('answers unknown routes and malformed JSON in the error shape', async () => {
    const missing = await call<ErrorBody>('GET', '/nothing-here', admin);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('no_such_route');
    const malformed = await call<ErrorBody>('POST', '/enroll', {
      token: enrollSecret,
      body: '{"role": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_json');
  });

  it('enrols a relay and a computer under it, and refuses a wrong secret or unknown relay', async () => {
    const relayRequest = { role: 'relay', name: 'relay-1', url: 'http://127.0.0.1:4001' };
    expect((await call('POST', '/enroll', { token: 'wrong', json: relayRequest })).status).toBe(401);
    expect((await call('POST', '/enroll', { token: adminToken, json: relayRequest })).status).toBe(401);

    const relay = await call<{ id: string; token: string; serverPublicKey: string }>('POST', '/enroll', {
      token: enrollSecret,
      json: relayRequest,
    });
    expect(relay.status).toBe(201);
    expect(relay.body.serverPublicKey).toContain('BEGIN PUBLIC KEY');
    ids.relay = relay.body.id;
    tokens.relay = relay.body.token;

    const computerRequest = { role: 'computer', name: 'pc-1', url: 'http://127.0.0.1:4101', relay: 'relay-1' };
    const computer = await call<{ id: string; token: string }>('POST', '/enroll', { token: enrollSecret, json: computerRequest });
    expect(computer.status).toBe(201);
    ids.computer = computer.body.id;
    tokens.computer = computer.body.token;

    const direct = await call<{ id: string }>('POST', '/enroll', {
      token: enrollSecret,
      json: { role: 'computer', name: 'pc-2', url: 'http://127.0.0.1:4102' },
    });
    expect(direct.status).toBe(201);
    ids.direct = direct.body.id;

    const orphan = await call<ErrorBody>('POST', '/enroll', {
      token: enrollSecret,
      json: { ...computerRequest, name: 'pc-3', relay: 'no-such-relay' },
    });
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.code).toBe('unknown_relay');
  });

  it('refuses admin routes without a token (401) and with an agent token (403)', async () => {
    expect((await call<ErrorBody>('GET', '/packages')).body.error.code).toBe('missing_token');
    expect((await call('GET', '/packages')).status).toBe(401);
    expect((await call('GET', '/packages', { token: 'made-up' })).status).toBe(401);
    expect((await call('GET', '/packages', { token: tokens.computer })).status).toBe(403);
    expect((await call('POST', '/jobs', { token: tokens.relay, json: {} })).status).toBe(403);
  });

  it('stores an uploaded package under its SHA-256 and answers 201', async () => {
    const manifest = { name: 'hello', version: '1.0.0', installCommand: 'sh install.sh', timeoutSeconds: 60 };
    const { status, body } = await call<typeof pkg & { timeoutSeconds: number; relayExpiresAt: string }>('POST', '/packages', {
      ...admin,
      body: uploadForm(manifest),
    });
    expect(status).toBe(201);
    expect(body.sha256).toBe(createHash('sha256').update(packageBytes).digest('hex'));
    expect(body.size).toBe(packageBytes.length);
    expect(body.format).toBe('tar.gz');
    expect(body.fileName).toBe('hello.tar.gz');
    expect(body.timeoutSeconds).toBe(60);
    expect(Date.parse(body.relayExpiresAt)).toBeGreaterThan(Date.now() + 89 * 24 * 3600 * 1000);
    expect(await readFile(store.pathOf(body.sha256))).toEqual(packageBytes);
    const [row] = await database.db.select().from(packages).where(eq(packages.id, body.id));
    expect(row?.manifestSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    pkg = body;

    const listed = await call<{ id: string }[]>('GET', '/packages', admin);
    expect(listed.body.map((p) => p.id)).toContain(pkg.id);
    expect((await call<{ name: string }>('GET', `/packages/${pkg.id}`, admin)).body.name).toBe('hello');
    expect((await call('GET', '/packages/not-a-uuid', admin)).status).toBe(404);
  });

  it('refuses a duplicate name and version with 409 and keeps one row', async () => {
    const manifest = { name: 'hello', version: '1.0.0', installCommand: 'sh install.sh' };
    const { status, body } = await call<ErrorBody>('POST', '/packages', { ...admin, body: uploadForm(manifest) });
    expect(status).toBe(409);
    expect(body.error.code).toBe('package_exists');
    expect(await database.db.select().from(packages).where(eq(packages.name, 'hello'))).toHaveLength(1);
    expect(await tempFiles()).toEqual([]);
  });

  it('refuses a bad manifest sent after the content: 400, no row, nothing left in the temporary area', async () => {
    const manifest = { name: 'broken', version: '1', installCommand: 'x', timeoutSeconds: 0 };
    const { status, body } = await call<ErrorBody>('POST', '/packages', {
      ...admin,
      body: uploadForm(manifest, { manifestLast: true }),
    });
    expect(status).toBe(400);
    expect(body.error.details).toEqual([expect.objectContaining({ path: 'timeoutSeconds' })]);
    expect(await database.db.select().from(packages).where(eq(packages.name, 'broken'))).toHaveLength(0);
    expect(await tempFiles()).toEqual([]);

    const noManifest = new FormData();
    noManifest.append('content', new Blob([packageBytes]), 'x.tar.gz');
    const missing = await call<ErrorBody>('POST', '/packages', { ...admin, body: noManifest });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('missing_part');

    const huge = { name: 'huge', version: '1', installCommand: 'x'.repeat(70 * 1024) };
    const tooLarge = await call<ErrorBody>('POST', '/packages', { ...admin, body: uploadForm(huge, { manifestLast: true }) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('manifest_too_large');
    expect(await tempFiles()).toEqual([]);
  });

  it('removes the temporary file when the client hangs up during an upload', async () => {
    const boundary = `b${randomBytes(6).toString('hex')}`;
    const upload = request(`${base}/api/v1/packages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': 10_000_000,
      },
    });
    upload.on('error', () => undefined);
    upload.write(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="big.bin"\r\n\r\n`);
    upload.write(Buffer.alloc(256 * 1024, 1));
    await waitFor(async () => (await tempFiles()).length === 1);
    upload.destroy();
    await waitFor(async () => (await tempFiles()).length === 0);
  });

  it('accepts the manifest as a file part after the content, and a single-file package', async () => {
    const form = new FormData();
    form.append('content', new Blob([packageBytes]), 'tool.bin');
    const manifest = { name: 'tool', version: '2', installCommand: 'cp tool.bin /tmp' };
    form.append('manifest', new Blob([JSON.stringify(manifest)], { type: 'application/json' }), 'manifest.json');
    const { status, body } = await call<{ format: string; fileName: string }>('POST', '/packages', { ...admin, body: form });
    expect(status).toBe(201);
    expect(body).toMatchObject({ format: 'file', fileName: 'tool.bin' });
  });

  it('serves content byte ranges to an enrolled agent', async () => {
    const response = await fetch(`${base}/api/v1/packages/${pkg.id}/content`, {
      headers: { authorization: `Bearer ${tokens.computer}`, range: 'bytes=10-99' },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes 10-99/${packageBytes.length}`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(packageBytes.subarray(10, 100));
    const whole = await fetch(`${base}/api/v1/packages/${pkg.id}/content`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(whole.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(packageBytes);
    expect((await call('GET', `/packages/${pkg.id}/content`)).status).toBe(401);
  });

  it('changes only the relay expiration date with PATCH', async () => {
    const relayExpiresAt = '2999-06-01T00:00:00.000Z';
    const { status, body } = await call<{ relayExpiresAt: string; sha256: string }>('PATCH', `/packages/${pkg.id}`, {
      ...admin,
      json: { relayExpiresAt },
    });
    expect(status).toBe(200);
    expect(body.relayExpiresAt).toBe(relayExpiresAt);
    expect(body.sha256).toBe(pkg.sha256);
    const past = await call('PATCH', `/packages/${pkg.id}`, { ...admin, json: { relayExpiresAt: '2000-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
  });

  it('re-enrolment keeps the id and retires the old token', async () => {
    const again = await call<{ id: string; token: string }>('POST', '/enroll', {
      token: enrollSecret,
      json: { role: 'computer', name: 'pc-1', url: 'http://127.0.0.1:4199', relay: 'relay-1' },
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(ids.computer);
    expect((await call('GET', `/packages/${pkg.id}/content`, { token: tokens.computer })).status).toBe(401);
    tokens.computer = again.body.token;
    expect((await call('GET', `/packages/${pkg.id}/content`, { token: tokens.computer })).status).toBe(200);
  });

  it('lists relays and computers, and what a computer has installed', async () => {
    const relays = await call<{ id: string; name: string; computers: number }[]>('GET', '/relays', admin);
    expect(relays.body).toEqual([expect.objectContaining({ id: ids.relay, name: 'relay-1', computers: 1 })]);
    const computers = await call<{ name: string; url: string; relay: unknown }[]>('GET', '/computers', admin);
    expect(computers.body.map((c) => [c.name, c.relay])).toEqual([
      ['pc-1', { id: ids.relay, name: 'relay-1' }],
      ['pc-2', null],
    ]);
    expect(computers.body[0]?.url).toBe('http://127.0.0.1:4199');

    const jobId = crypto.randomUUID();
    await database.db.insert(installations).values({ computerId: ids.computer!, packageId: pkg.id, jobId, installedAt: new Date() });
    const byName = await call<{ id: string; installed: { packageId: string; name: string; jobId: string }[] }>(
      'GET',
      '/computers/pc-1',
      admin,
    );
    expect(byName.body.id).toBe(ids.computer);
    expect(byName.body.installed).toEqual([expect.objectContaining({ packageId: pkg.id, name: 'hello', version: '1.0.0', jobId })]);
    expect((await call<{ name: string }>('GET', `/computers/${ids.direct}`, admin)).body.name).toBe('pc-2');
    expect((await call('GET', '/computers/nobody', admin)).status).toBe(404);
  });

  it('refuses jobs with unknown targets, unknown packages and unsupported types, writing nothing', async () => {
    const unknown = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { computers: ['pc-1', 'ghost'], relays: ['nowhere'] } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('unknown_targets');
    expect(unknown.body.error.details).toEqual({ computers: ['ghost'], relays: ['nowhere'] });

    const noPackage = await call('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: crypto.randomUUID(), targets: { all: true } },
    });
    expect(noPackage.status).toBe(404);

    const transfer = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'transfer', packageId: pkg.id, targets: { relays: ['relay-1'] } },
    });
    expect(transfer.status).toBe(422);
    expect(transfer.body.error.code).toBe('unsupported_job_type');
    expect(transfer.body.error.message).toContain('not available yet');

    await call('POST', '/enroll', { token: enrollSecret, json: { role: 'relay', name: 'empty', url: 'http://127.0.0.1:4002' } });
    const nobody = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { relays: ['empty'] } },
    });
    expect(nobody.status).toBe(400);
    expect(nobody.body.error.code).toBe('no_targets');

    const backwards = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { all: true }, deadline: '2001-01-01T00:00:00Z' },
    });
    expect(backwards.status).toBe(400);

    expect(await database.db.select().from(jobs)).toHaveLength(0);
    expect(await database.db.select().from(jobTargets)).toHaveLength(0);
  });

  let job: { id: string; workflowId: string; status: string; scheduledAt: string };

  it('creates a job, its targets and its workflow with search attributes and a summary', async () => {
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await call<typeof job & { targets: { name: string; kind: string; state: string }[] }>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { relays: ['relay-1'], computers: [ids.direct, 'pc-1'] }, scheduledAt },
    });
    expect(created.status).toBe(201);
    job = created.body;
    expect(job.status).toBe('scheduled');
    expect(job.workflowId).toBe(`job-${job.id}`);
    expect(job.scheduledAt).toBe(scheduledAt);
    expect(created.body.targets.map((t) => [t.kind, t.name, t.state])).toEqual([
      ['computer', 'pc-1', 'pending'],
      ['computer', 'pc-2', 'pending'],
    ]);
    expect(await database.db.select().from(jobTargets).where(eq(jobTargets.jobId, job.id))).toHaveLength(2);

    const description = await temporal.workflow.getHandle(job.workflowId).describe();
    expect(description.type).toBe('installJob');
    expect(description.taskQueue).toBe(taskQueue);
    expect(description.typedSearchAttributes.get(searchAttributes.jobId)).toBe(job.id);
    expect(description.typedSearchAttributes.get(searchAttributes.jobType)).toBe('install');
    expect(description.typedSearchAttributes.get(searchAttributes.packageId)).toBe(pkg.id);
    expect(await description.staticSummary()).toBe(`install hello 1.0.0 on 2 computers at ${scheduledAt}`);
  });

  it('deletes the job again and answers 503 when Temporal cannot start its workflow', async () => {
    // A namespace Temporal does not have makes the start fail at once, as a real refusal would.
    const refusing = new Client({ connection, namespace: `missing-${randomBytes(4).toString('hex')}` });
    const config = loadConfig({ COURIER_DATA_DIR: dataDir, COURIER_ADMIN_TOKEN: adminToken, COURIER_TASK_QUEUE: taskQueue });
    const app = createApp({ db: database.db, temporal: refusing, config, serverKey, store });
    const isolated = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const response = await fetch(`http://127.0.0.1:${(isolated.address() as { port: number }).port}/api/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'install', packageId: pkg.id, targets: { all: true } }),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as ErrorBody).error.code).toBe('temporal_unavailable');
      expect((await database.db.select().from(jobs)).map((row) => row.id)).toEqual([job.id]);
      expect(await database.db.select().from(jobTargets)).toHaveLength(2);
    } finally {
      await new Promise((resolve) => isolated.close(resolve));
    }
  });

  it('shows counts, progress and paginated targets', async () => {
    await database.db
      .update(jobTargets)
      .set({ state: 'installed' })
      .where(eq(jobTargets.targetId, ids.computer!));
    const { body } = await call<{
      counts: Record<string, number>;
      progress: number;
      targets: { name: string }[];
      targetsTotal: number;
    }>('GET', `/jobs/${job.id}?targetsLimit=1&targetsOffset=1`, admin);
    expect(body.counts).toEqual({ installed: 1, pending: 1 });
    expect(body.progress).toBe(50);
    expect(body.targets.map((t) => t.name)).toEqual(['pc-2']);
    expect(body.targetsTotal).toBe(2);

    const filtered = await call<{ targets: { name: string }[]; targetsTotal: number }>('GET', `/jobs/${job.id}?state=installed`, admin);
    expect(filtered.body.targets.map((t) => t.name)).toEqual(['pc-1']);
    expect(filtered.body.targetsTotal).toBe(1);
    expect((await call('GET', `/jobs/${job.id}?targetsLimit=0`, admin)).status).toBe(400);

    const list = await call<{ id: string; progress: number; targets?: unknown }[]>('GET', '/jobs', admin);
    expect(list.body).toEqual([expect.objectContaining({ id: job.id, progress: 50 })]);
    expect(list.body[0]?.targets).toBeUndefined();
    expect((await call('GET', '/jobs/not-a-uuid', admin)).status).toBe(404);
  });

  it('cancels a running job through its workflow (202) and refuses to cancel a finished one (409)', async () => {
    const cancelled = await call<{ id: string }>('POST', `/jobs/${job.id}/cancel`, admin);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body.id).toBe(job.id);
    const history = await temporal.workflow.getHandle(job.workflowId).fetchHistory();
    expect(history.events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes)).toBe(true);

    await database.db.update(jobs).set({ status: 'completed' }).where(eq(jobs.id, job.id));
    const finished = await call<ErrorBody>('POST', `/jobs/${job.id}/cancel`, admin);
    expect(finished.status).toBe(409);
    expect(finished.body.error.code).toBe('job_finished');
  });
});
