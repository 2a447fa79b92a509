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
import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { PackageStore } from '../../api/package-store.js';
import { loadConfig } from '../../common/config.js';
import { jobBatchWorkflowId, searchAttributes } from '../../common/names.js';
import { computers, installations, jobs, jobTargets, packages, relayCopies, servedBytes } from '../../db/schema/index.js';
import { loadOrCreateServerKey, type ServerKey } from '../../trust/signing.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/temporal.js';
import { silentLogger } from '../../common/logger.js';

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
/** A page of a list. */
type Paged<Item> = { items: Item[]; nextCursor: string | null };
/** A page of one job's targets. */
type TargetsPage = { targets: { name: string; state: string }[]; targetsTotal: number; targetsNextCursor: string | null };

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
  const app = createApp({ db: database.db, temporal, config, serverKey, store, logger: silentLogger() });
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

    const direct = await call<{ id: string; token: string }>('POST', '/enroll', {
      token: enrollSecret,
      json: { role: 'computer', name: 'pc-2', url: 'http://127.0.0.1:4102' },
    });
    expect(direct.status).toBe(201);
    ids.direct = direct.body.id;
    tokens.direct = direct.body.token;

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

    const listed = await call<Paged<{ id: string }>>('GET', '/packages', admin);
    expect(listed.body.items.map((p) => p.id)).toContain(pkg.id);
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

  it("counts the bytes served to each agent, ranges by their length, and not the admin's downloads", async () => {
    const relayRange = await fetch(`${base}/api/v1/packages/${pkg.id}/content`, {
      headers: { authorization: `Bearer ${tokens.relay}`, range: 'bytes=0-99' },
    });
    expect(relayRange.status).toBe(206);
    expect((await relayRange.arrayBuffer()).byteLength).toBe(100);
    const beyond = await call<ErrorBody>('GET', `/packages/${pkg.id}/content`, {
      token: tokens.relay,
      headers: { range: `bytes=${packageBytes.length + 10}-` },
    });
    expect(beyond.status).toBe(416);
    expect(beyond.body.error.code).toBe('range_not_satisfiable');
    expect(beyond.headers.get('content-range')).toBe(`bytes */${packageBytes.length}`);

    const served = async () => (await call<any>('GET', `/packages/${pkg.id}`, admin)).body.servedBytes;
    // Counts are written once each response has closed, just after the client has its bytes.
    await waitFor(async () => (await served()).length === 2);
    expect(await served()).toEqual([
      expect.objectContaining({ kind: 'relay', id: ids.relay, name: 'relay-1', bytes: 100, requests: 1 }),
      // The earlier range request of bytes 10-99; the admin's whole download in between counts nothing.
      expect.objectContaining({ kind: 'computer', id: ids.computer, name: 'pc-1', bytes: 90, requests: 1 }),
    ]);
    const rows = await database.db.select().from(servedBytes).where(eq(servedBytes.packageId, pkg.id));
    expect(rows.map((row) => row.agentId).sort()).toEqual([ids.computer, ids.relay].sort());
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

  it('re-enrolment with its own token keeps the id and retires the old token', async () => {
    const again = await call<{ id: string; token: string }>('POST', '/enroll', {
      token: enrollSecret,
      headers: { 'x-courier-agent-token': tokens.computer! },
      json: { role: 'computer', name: 'pc-1', url: 'http://127.0.0.1:4199', relay: 'relay-1' },
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(ids.computer);
    expect((await call('GET', `/packages/${pkg.id}/content`, { token: tokens.computer })).status).toBe(401);
    tokens.computer = again.body.token;
    expect((await call('GET', `/packages/${pkg.id}/content`, { token: tokens.computer })).status).toBe(200);
  });

  it('lists relays and computers, and what a computer has installed', async () => {
    const relays = await call<Paged<{ id: string; name: string; computers: number }>>('GET', '/relays', admin);
    expect(relays.body).toEqual({ items: [expect.objectContaining({ id: ids.relay, name: 'relay-1', computers: 1 })], nextCursor: null });
    const computers = await call<Paged<{ name: string; url: string; relay: unknown }>>('GET', '/computers', admin);
    expect(computers.body.items.map((c) => [c.name, c.relay])).toEqual([
      ['pc-1', { id: ids.relay, name: 'relay-1' }],
      ['pc-2', null],
    ]);
    expect(computers.body.items[0]?.url).toBe('http://127.0.0.1:4199');
    expect(computers.body.nextCursor).toBeNull();

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

  it('labels computers at enrolment and through PATCH, and lists those carrying every label asked for', async () => {
    const request = { role: 'computer', name: 'pc-labelled', url: 'http://127.0.0.1:4299' };
    const enrolled = await call<{ token: string }>('POST', '/enroll', { token: enrollSecret, json: { ...request, labels: { site: 'osaka', ring: 'canary' } } });
    expect(enrolled.status).toBe(201);
    const patched = await call<{ labels: unknown }>('PATCH', '/computers/pc-labelled', { ...admin, json: { labels: { ring: null, owner: 'it dept' } } });
    expect([patched.status, patched.body.labels]).toEqual([200, { site: 'osaka', owner: 'it dept' }]);
    // Enrolling again sets the agent's labels over the computer's own; keys it does not name stay.
    const again = await call('POST', '/enroll', {
      token: enrollSecret,
      headers: { 'x-courier-agent-token': enrolled.body.token },
      json: { ...request, labels: { site: 'kyoto' } },
    });
    expect(again.status).toBe(200);
    const labelsOf = async (name: string) => (await call<{ labels: unknown }>('GET', `/computers/${name}`, admin)).body.labels;
    expect(await labelsOf('pc-labelled')).toEqual({ site: 'kyoto', owner: 'it dept' });
    expect((await call('PATCH', '/computers/pc-2', { ...admin, json: { labels: { site: 'kyoto' } } })).status).toBe(200);

    const names = async (query: string) => (await call<Paged<{ name: string }>>('GET', `/computers?${query}`, admin)).body.items.map((c) => c.name);
    expect(await names('label=site=kyoto')).toEqual(['pc-2', 'pc-labelled']);
    expect(await names(`label=site=kyoto&label=${encodeURIComponent('owner=it dept')}`)).toEqual(['pc-labelled']);
    expect(await names('label=site=nowhere')).toEqual([]);

    // Bad input is a 400 naming the problem, and changes nothing.
    const tooMany = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    const refusals: [string, string, unknown, string][] = [
      ['PATCH', '/computers/pc-labelled', { labels: { 'bad key': 'x' } }, 'invalid_input'],
      ['PATCH', '/computers/pc-labelled', { labels: tooMany }, 'too_many_labels'],
      ['PATCH', '/computers/pc-labelled', { labels: { site: 'a\u0007b' } }, 'invalid_input'],
      ['PATCH', '/computers/pc-labelled', { name: 'renamed' }, 'invalid_input'],
      ['GET', '/computers?label=site', undefined, 'invalid_input'],
    ];
    for (const [method, path, json, code] of refusals) {
      const refused = await call<ErrorBody>(method, path, { ...admin, json });
      expect([refused.status, refused.body.error.code], `${method} ${path} ${JSON.stringify(json)}`).toEqual([400, code]);
    }
    const relayWithLabels = await call<ErrorBody>('POST', '/enroll', {
      token: enrollSecret,
      json: { role: 'relay', name: 'relay-labelled', url: 'http://127.0.0.1:4299', labels: { site: 'osaka' } },
    });
    expect([relayWithLabels.status, relayWithLabels.body.error.message]).toEqual([400, expect.stringContaining('only computers carry labels')]);
    expect(await labelsOf('pc-labelled')).toEqual({ site: 'kyoto', owner: 'it dept' });
    expect((await call('PATCH', '/computers/nobody', { ...admin, json: { labels: {} } })).status).toBe(404);

  });

  it('refuses jobs with unknown targets, unknown packages or impossible schedules, writing nothing', async () => {
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

    const transferToComputers = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'transfer', packageId: pkg.id, targets: { computers: ['pc-1'] } },
    });
    expect(transferToComputers.status).toBe(400);
    expect(transferToComputers.body.error.code).toBe('invalid_targets');

    // Relays would already treat the package as expired when the job starts.
    const afterExpiry = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'offer', packageId: pkg.id, targets: { all: true }, scheduledAt: '3000-01-01T00:00:00Z' },
    });
    expect(afterExpiry.status).toBe(422);
    expect(afterExpiry.body.error.code).toBe('package_expired');
    expect(afterExpiry.body.error.message).toContain('2999-06-01T00:00:00.000Z');

    // Relays would drop their copy while the job still needs it.
    const outlasting = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { all: true }, deadline: '2999-06-01T00:00:01Z' },
    });
    expect(outlasting.status).toBe(422);
    expect(outlasting.body.error.code).toBe('deadline_after_package_expiry');
    expect(outlasting.body.error.message).toContain('2999-06-01T00:00:01.000Z');
    expect(outlasting.body.error.message).toContain('2999-06-01T00:00:00.000Z');
    expect(outlasting.body.error.message).toContain(`PATCH /packages/${pkg.id} with a later relayExpiresAt`);

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

  it('deletes the job again and answers 503 when Temporal refuses to start its workflow', async () => {
    // A namespace Temporal does not have makes the start fail at once, as a real refusal would.
    const refusing = new Client({ connection, namespace: `missing-${randomBytes(4).toString('hex')}` });
    const config = loadConfig({ COURIER_DATA_DIR: dataDir, COURIER_ADMIN_TOKEN: adminToken, COURIER_TASK_QUEUE: taskQueue });
    const app = createApp({ db: database.db, temporal: refusing, config, serverKey, store, logger: silentLogger() });
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
    const { body } = await call<{ counts: Record<string, number>; progress: number } & TargetsPage>(
      'GET',
      `/jobs/${job.id}?targetsLimit=1`,
      admin,
    );
    expect(body.counts).toEqual({ installed: 1, pending: 1 });
    expect(body.progress).toBe(50);
    expect(body.targets.map((t) => t.name)).toEqual(['pc-1']);
    expect(body.targetsTotal).toBe(2);
    const next = await call<TargetsPage>('GET', `/jobs/${job.id}?targetsLimit=1&targetsCursor=${body.targetsNextCursor}`, admin);
    expect(next.body.targets.map((t) => t.name)).toEqual(['pc-2']);
    expect(next.body.targetsNextCursor).toBeNull();

    const filtered = await call<TargetsPage>('GET', `/jobs/${job.id}?state=installed`, admin);
    expect(filtered.body.targets.map((t) => t.name)).toEqual(['pc-1']);
    expect(filtered.body.targetsTotal).toBe(1);
    expect(filtered.body.targetsNextCursor).toBeNull();
    expect((await call('GET', `/jobs/${job.id}?targetsLimit=0`, admin)).status).toBe(400);

    const list = await call<Paged<{ id: string; progress: number; targets?: unknown }>>('GET', '/jobs', admin);
    expect(list.body).toEqual({ items: [expect.objectContaining({ id: job.id, progress: 50 })], nextCursor: null });
    expect(list.body.items[0]?.targets).toBeUndefined();
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

  let transferJob: { id: string; workflowId: string };

  it('accepts transfer jobs for relays and offer jobs that close at the relay expiration by default', async () => {
    const transfer = await call<any>('POST', '/jobs', {
      ...admin,
      json: { type: 'transfer', packageId: pkg.id, targets: { relays: ['relay-1'] } },
    });
    expect(transfer.status).toBe(201);
    expect(transfer.body.targets.map((t: any) => [t.kind, t.name, t.state])).toEqual([['relay', 'relay-1', 'pending']]);
    expect((await temporal.workflow.getHandle(transfer.body.workflowId).describe()).type).toBe('transferJob');
    transferJob = transfer.body;

    const { relayExpiresAt } = (await call<{ relayExpiresAt: string }>('GET', `/packages/${pkg.id}`, admin)).body;
    const offer = await call<any>('POST', '/jobs', { ...admin, json: { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-1'] } } });
    expect(offer.status).toBe(201);
    expect(offer.body.deadline).toBe(relayExpiresAt);
    expect(offer.body.targets).toEqual([expect.objectContaining({ name: 'pc-1', state: 'pending', choice: null })]);
    const description = await temporal.workflow.getHandle(offer.body.workflowId).describe();
    expect(description.type).toBe('offerJob');
    expect(description.typedSearchAttributes.get(searchAttributes.jobType)).toBe('offer');

    const deadline = new Date(Date.now() + 3600_000).toISOString();
    const explicit = await call<any>('POST', '/jobs', {
      ...admin,
      json: { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-2'] }, deadline },
    });
    expect(explicit.status).toBe(201);
    expect(explicit.body.deadline).toBe(deadline);
  });

  it("shows relay copies with each copy's own expiry, from the package and from the relay", async () => {
    const relays = await call<Paged<{ id: string; name: string }>>('GET', '/relays', admin);
    const empty = relays.body.items.find((relay) => relay.name === 'empty')!;
    const storedAt = new Date('2999-01-01T00:00:00.000Z');
    const copyExpiry = '2999-06-01T00:00:00.000Z';
    await database.db.insert(relayCopies).values([
      { relayId: ids.relay!, packageId: pkg.id, state: 'stored', expiresAt: new Date(copyExpiry), storedAt, jobId: transferJob.id },
      { relayId: empty.id, packageId: pkg.id, state: 'expired', expiresAt: new Date('2001-01-01T00:00:00Z'), storedAt, jobId: null },
    ]);

    const expectedCopies = [
      { relayId: empty.id, relayName: 'empty', state: 'expired', expiresAt: '2001-01-01T00:00:00.000Z', storedAt: storedAt.toISOString() },
      { relayId: ids.relay, relayName: 'relay-1', state: 'stored', expiresAt: copyExpiry, storedAt: storedAt.toISOString() },
    ];
    expect((await call<any>('GET', `/packages/${pkg.id}`, admin)).body.relayCopies).toEqual(expectedCopies);
    const listed = await call<Paged<any>>('GET', '/packages', admin);
    expect(listed.body.items.find((item) => item.id === pkg.id).relayCopies).toEqual(expectedCopies);
    expect(listed.body.items.find((item) => item.name === 'tool').relayCopies).toEqual([]);

    const withCopies = await call<Paged<any>>('GET', '/relays', admin);
    const copiesOf = (name: string) => withCopies.body.items.find((relay) => relay.name === name).copies;
    expect(copiesOf('relay-1')).toEqual([{ packageId: pkg.id, name: 'hello', version: '1.0.0', state: 'stored', expiresAt: copyExpiry }]);
    expect(copiesOf('empty')).toEqual([expect.objectContaining({ packageId: pkg.id, state: 'expired' })]);

    // A new expiry is the package's; the relay keeps the date its copy was sent with until a retransfer.
    const patched = await call<any>('PATCH', `/packages/${pkg.id}`, { ...admin, json: { relayExpiresAt: '2999-07-01T00:00:00Z' } });
    expect(patched.body.relayExpiresAt).toBe('2999-07-01T00:00:00.000Z');
    expect(patched.body.relayCopies).toEqual(expectedCopies);
    expect((await call<any>('GET', `/packages/${pkg.id}`, admin)).body.relayCopies[1].expiresAt).toBe(copyExpiry);
  });

  it('reruns a finished job for the targets that failed or never finished, and only then', async () => {
    const outsider = await call<{ id: string; token: string }>('POST', '/enroll', {
      token: enrollSecret,
      json: { role: 'computer', name: 'pc-3', url: 'http://127.0.0.1:4103' },
    });
    ids.outsider = outsider.body.id;
    tokens.outsider = outsider.body.token;
    const scheduledAt = new Date(Date.now() + 3600_000);
    const deadline = new Date(scheduledAt.getTime() + 2 * 3600_000);
    const original = await call<any>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { computers: ['pc-1', 'pc-2', 'pc-3'] }, scheduledAt, deadline },
    });
    expect(original.status).toBe(201);
    const running = await call<ErrorBody>('POST', `/jobs/${original.body.id}/rerun`, admin);
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('job_running');

    const setState = (targetId: string, state: 'installed' | 'failed' | 'unreachable') =>
      database.db
        .update(jobTargets)
        .set({ state })
        .where(and(eq(jobTargets.jobId, original.body.id), eq(jobTargets.targetId, targetId)));
    await setState(ids.computer!, 'installed');
    await setState(ids.direct!, 'failed');
    await setState(ids.outsider, 'unreachable');
    await database.db.update(jobs).set({ status: 'completed_with_errors' }).where(eq(jobs.id, original.body.id));

    expect((await call('POST', `/jobs/${original.body.id}/rerun`, { token: tokens.relay })).status).toBe(403);
    const before = Date.now();
    const rerun = await call<any>('POST', `/jobs/${original.body.id}/rerun`, admin);
    expect(rerun.status).toBe(201);
    expect(rerun.body).toMatchObject({ type: 'install', packageId: pkg.id, status: 'scheduled', rerunOf: original.body.id });
    expect(rerun.body.id).not.toBe(original.body.id);
    expect(rerun.body.targets.map((t: any) => [t.name, t.state])).toEqual([
      ['pc-2', 'pending'],
      ['pc-3', 'pending'],
    ]);
    expect(Date.parse(rerun.body.scheduledAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(rerun.body.deadline) - Date.parse(rerun.body.scheduledAt)).toBe(2 * 3600_000);
    const description = await temporal.workflow.getHandle(rerun.body.workflowId).describe();
    expect(description.type).toBe('installJob');
    expect(await description.staticSummary()).toMatch(new RegExp(`^rerun of job ${original.body.id}: install hello 1.0.0 on 2 computers`));

    await setState(ids.direct!, 'installed');
    await setState(ids.outsider, 'installed');
    const nothing = await call<ErrorBody>('POST', `/jobs/${original.body.id}/rerun`, admin);
    expect(nothing.status).toBe(409);
    expect(nothing.body.error.code).toBe('nothing_to_rerun');
    expect((await call('POST', `/jobs/${crypto.randomUUID()}/rerun`, admin)).status).toBe(404);

    await database.db.update(jobTargets).set({ state: 'failed' }).where(eq(jobTargets.jobId, transferJob.id));
    await database.db.update(jobs).set({ status: 'completed_with_errors' }).where(eq(jobs.id, transferJob.id));
    const retransfer = await call<any>('POST', `/jobs/${transferJob.id}/rerun`, admin);
    expect(retransfer.status).toBe(201);
    expect(retransfer.body.type).toBe('transfer');
    expect(retransfer.body.targets.map((t: any) => [t.kind, t.name])).toEqual([['relay', 'relay-1']]);
  });

  it("caps default deadlines at the package's relay expiration and refuses a package that has expired, also on rerun", async () => {
    const soon = new Date(Date.now() + 3600_000);
    const manifest = { name: 'short-lived', version: '1', installCommand: 'sh install.sh', relayExpiresAt: soon.toISOString() };
    const upload = await call<{ id: string; relayExpiresAt: string }>('POST', '/packages', { ...admin, body: uploadForm(manifest) });
    expect(upload.status).toBe(201);
    const shortLived = upload.body;

    // The 24-hour default would outlast the relays' copy: the job ends when the copy does.
    const capped = await call<any>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: shortLived.id, targets: { computers: ['pc-1'] } },
    });
    expect(capped.status).toBe(201);
    expect(capped.body.deadline).toBe(shortLived.relayExpiresAt);

    const jobCount = async () => (await database.db.select().from(jobs)).length;
    const before = await jobCount();
    // Time passes: the package's relay expiration is behind us.
    await database.db.update(packages).set({ relayExpiresAt: new Date(Date.now() - 60_000) }).where(eq(packages.id, shortLived.id));
    const expired = await call<ErrorBody>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: shortLived.id, targets: { computers: ['pc-1'] } },
    });
    expect(expired.status).toBe(422);
    expect(expired.body.error.code).toBe('package_expired');
    expect(expired.body.error.message).toContain(`PATCH /packages/${shortLived.id}`);

    await database.db.update(jobTargets).set({ state: 'failed' }).where(eq(jobTargets.jobId, capped.body.id));
    await database.db.update(jobs).set({ status: 'completed_with_errors' }).where(eq(jobs.id, capped.body.id));
    const expiredRerun = await call<ErrorBody>('POST', `/jobs/${capped.body.id}/rerun`, admin);
    expect(expiredRerun.status).toBe(422);
    expect(expiredRerun.body.error.code).toBe('package_expired');
    expect(await jobCount()).toBe(before);

    // Given a new date, the rerun runs, for its original span but no longer than the package lasts.
    const halfHour = new Date(Date.now() + 1800_000).toISOString();
    expect((await call('PATCH', `/packages/${shortLived.id}`, { ...admin, json: { relayExpiresAt: halfHour } })).status).toBe(200);
    const rerun = await call<any>('POST', `/jobs/${capped.body.id}/rerun`, admin);
    expect(rerun.status).toBe(201);
    expect(rerun.body.deadline).toBe(new Date(halfHour).toISOString());
  });

  /** Waits until the workflow has been nudged at least `count` times, and returns how often it was. */
  async function nudged(workflowId: string, count: number): Promise<number> {
    return eventually(async () => {
      const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
      const nudges = (history.events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'batchNudge');
      return nudges.length >= count ? nudges.length : undefined;
    }, 10_000, `${count} nudges of ${workflowId}`);
  }

  function setTarget(jobId: string, computerId: string, values: Partial<typeof jobTargets.$inferInsert>) {
    return database.db
      .update(jobTargets)
      .set(values)
      .where(and(eq(jobTargets.jobId, jobId), eq(jobTargets.targetId, computerId)));
  }

  const choose = (jobId: string, token: string | undefined, choice: unknown) =>
    call<any>('POST', `/jobs/${jobId}/choices`, { ...(token && { token }), json: { choice } });

  it("takes a user's choice once and nudges the batch workflow that owns the computer's offer", async () => {
    const offer = await call<any>('POST', '/jobs', {
      ...admin,
      json: { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-1', 'pc-2'] } },
    });
    expect(offer.status).toBe(201);
    const jobId: string = offer.body.id;
    // No worker runs here, so this stand-in for the job's first batch stays open and takes signals.
    const batchWorkflowId = jobBatchWorkflowId(jobId, 0);
    await temporal.workflow.start('offerBatch', {
      taskQueue,
      workflowId: batchWorkflowId,
      args: [{ jobId, packageId: pkg.id, deadline: offer.body.deadline, computerIds: [ids.computer, ids.direct] }],
    });
    await setTarget(jobId, ids.computer!, { state: 'offered', batchWorkflowId });

    const accepted = await choose(jobId, tokens.computer, 'install');
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ jobId, computerId: ids.computer, choice: 'install' });
    expect(await nudged(batchWorkflowId, 1)).toBe(1);
    const view = await call<any>('GET', `/jobs/${jobId}`, admin);
    expect(view.body.targets.map((t: any) => [t.name, t.choice])).toEqual([
      ['pc-1', 'install'],
      ['pc-2', null],
    ]);

    const again = await choose(jobId, tokens.computer, 'decline');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_decided');

    // A batch workflow that has ended (it closed its offers at the deadline just after the api recorded the
    // choice) took every choice recorded in time from the rows: the choice stands, unnudged.
    await setTarget(jobId, ids.direct!, { state: 'offered', batchWorkflowId: `${batchWorkflowId}-ended` });
    const late = await choose(jobId, tokens.direct, 'decline');
    expect(late.status).toBe(202);
    const [kept] = await database.db
      .select()
      .from(jobTargets)
      .where(and(eq(jobTargets.jobId, jobId), eq(jobTargets.targetId, ids.direct!)));
    expect(kept?.choice).toBe('decline');

    // Two clicks at once: one choice is recorded and its batch nudged, the other is refused.
    await setTarget(jobId, ids.direct!, { batchWorkflowId, choice: null });
    const both = await Promise.all([choose(jobId, tokens.direct, 'install'), choose(jobId, tokens.direct, 'decline')]);
    expect(both.map((answer) => answer.status).sort()).toEqual([202, 409]);
    const winner = both.find((answer) => answer.status === 202)!.body.choice;
    expect(['install', 'decline']).toContain(winner);
    expect(await nudged(batchWorkflowId, 2)).toBe(2);
  });

  it('refuses choices from anyone but a targeted computer, before its offer arrives and after the offer closes', async () => {
    const offer = await call<any>('POST', '/jobs', { ...admin, json: { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-1'] } } });
    const jobId: string = offer.body.id;

    for (const token of [adminToken, tokens.relay]) {
      const refused = await choose(jobId, token, 'install');
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('computer_only');
    }
    expect((await choose(jobId, undefined, 'install')).status).toBe(401);
    const outsider = await choose(jobId, tokens.outsider, 'install');
    expect(outsider.status).toBe(403);
    expect(outsider.body.error).toMatchObject({ code: 'not_offered', message: 'this offer was not made to this computer' });
    expect((await choose(jobId, tokens.computer, 'later')).status).toBe(400);
    expect((await choose(job.id, tokens.computer, 'install')).body.error.code).toBe('job_not_found');
    expect((await choose(crypto.randomUUID(), tokens.computer, 'install')).status).toBe(404);

    const early = await choose(jobId, tokens.computer, 'install');
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('not_offered_yet');
    await setTarget(jobId, ids.computer!, { state: 'offered' });
    expect((await choose(jobId, tokens.computer, 'install')).body.error.code).toBe('not_offered_yet');

    await setTarget(jobId, ids.computer!, { batchWorkflowId: jobBatchWorkflowId(jobId, 0) });
    await database.db.update(jobs).set({ deadline: new Date(Date.now() - 1000) }).where(eq(jobs.id, jobId));
    const late = await choose(jobId, tokens.computer, 'install');
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('expired');
    expect(late.body.error.message).toContain('expired');

    await database.db.update(jobs).set({ status: 'cancelled' }).where(eq(jobs.id, jobId));
    const closed = await choose(jobId, tokens.computer, 'install');
    expect(closed.status).toBe(409);
    expect(closed.body.error.code).toBe('offer_closed');
    const [target] = await database.db.select().from(jobTargets).where(eq(jobTargets.jobId, jobId));
    expect(target?.choice).toBeNull();
  });

  /** Every page of a list, from the first to the one whose nextCursor is null. */
  async function everyPage<Item>(path: string, limit: number): Promise<Paged<Item>[]> {
    const pages: Paged<Item>[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const answer = await call<Paged<Item>>('GET', `${path}?${query}`, admin);
      expect(answer.status).toBe(200);
      pages.push(answer.body);
      cursor = answer.body.nextCursor;
    } while (cursor !== null && pages.length <= 100);
    return pages;
  }

  /** Every page of a job's targets, as `everyPage` for a list. */
  async function everyTargetsPage(jobId: string, query: string): Promise<TargetsPage[]> {
    const pages: TargetsPage[] = [];
    let cursor: string | null = null;
    do {
      const after: string = cursor === null ? '' : `&targetsCursor=${encodeURIComponent(cursor)}`;
      const answer = await call<TargetsPage>('GET', `/jobs/${jobId}?${query}${after}`, admin);
      expect(answer.status).toBe(200);
      pages.push(answer.body);
      cursor = answer.body.targetsNextCursor;
    } while (cursor !== null && pages.length <= 100);
    return pages;
  }

  /** Checks that each page but the last is full and points on, and returns the pages' items in order. */
  function itemsOf<Item>(pages: Paged<Item>[], limit: number): Item[] {
    for (const page of pages.slice(0, -1)) {
      expect(page.items).toHaveLength(limit);
      expect(page.nextCursor).toEqual(expect.any(String));
    }
    expect(pages.at(-1)!.nextCursor).toBeNull();
    return pages.flatMap((page) => page.items);
  }

  // Names whose order is not their numbers' order, and names a cursor must carry intact.
  const pagedNames = [...Array.from({ length: 21 }, (_, i) => `paged-${i}`), 'paged Ω', 'paged "quoted"', 'paged/slash&cursor='];

  it('pages through every computer and relay exactly once, in name order, ending with a null cursor', async () => {
    await database.db.insert(computers).values(pagedNames.map((name) => ({ name, url: 'http://127.0.0.1:4999' })));
    const names = (await database.db.select({ name: computers.name }).from(computers).orderBy(asc(computers.name))).map((row) => row.name);
    expect(names).toEqual(expect.arrayContaining(pagedNames));
    expect(names.length % 2).toBe(0);

    const inPages = (limit: number) => everyPage<{ name: string }>('/computers', limit);
    const byFour = await inPages(4);
    expect(byFour).toHaveLength(Math.ceil(names.length / 4));
    expect(itemsOf(byFour, 4).map((computer) => computer.name)).toEqual(names);
    // A last page that is exactly full still says it is the last.
    const halves = await inPages(names.length / 2);
    expect(halves).toHaveLength(2);
    expect(itemsOf(halves, names.length / 2).map((computer) => computer.name)).toEqual(names);
    const whole = await inPages(names.length);
    expect(whole).toHaveLength(1);
    expect(itemsOf(whole, names.length).map((computer) => computer.name)).toEqual(names);

    const relays = itemsOf(await everyPage<{ name: string; computers: number }>('/relays', 1), 1);
    expect(relays.map((relay) => [relay.name, relay.computers])).toEqual([
      ['empty', 0],
      ['relay-1', 1],
    ]);
  });

  it('pages through jobs newest first, telling apart jobs created in the same millisecond or at the same instant', async () => {
    // A key to the millisecond would skip or repeat jobs microseconds apart; one without the id, jobs created together.
    const instants = ['000001', '000002', '000002', '000002', '000900'].map((micros) => `2020-05-01T10:00:00.${micros}Z`);
    const past = new Date('2020-05-01T10:00:00Z');
    await database.db.insert(jobs).values(
      instants.map((at) => ({
        type: 'install' as const,
        packageId: pkg.id,
        status: 'completed' as const,
        targetSpec: {},
        scheduledAt: past,
        deadline: past,
        workflowId: 'job-paging-test',
        createdAt: sql`${at}::timestamptz`,
        launchedAt: past,
      })),
    );
    const newestFirst = await database.db.select({ id: jobs.id }).from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.id));
    expect(newestFirst.length).toBeGreaterThan(instants.length);

    const listed = itemsOf(await everyPage<{ id: string }>('/jobs', 2), 2);
    expect(listed.map((item) => item.id)).toEqual(newestFirst.map((row) => row.id));
    expect(new Set(listed.map((item) => item.id)).size).toBe(listed.length);
  });

  it('pages through packages newest first, leaving retired ones out', async () => {
    for (const version of ['1', '2', '3']) {
      const upload = await call('POST', '/packages', { ...admin, body: uploadForm({ name: 'paged-package', version, installCommand: 'true' }) });
      expect(upload.status).toBe(201);
    }
    const inUse = await database.db
      .select({ id: packages.id })
      .from(packages)
      .where(isNull(packages.retiredAt))
      .orderBy(desc(packages.createdAt), desc(packages.id));
    expect(inUse.length).toBeGreaterThanOrEqual(3);
    const listed = itemsOf(await everyPage<{ id: string }>('/packages', 2), 2);
    expect(listed.map((item) => item.id)).toEqual(inUse.map((row) => row.id));
  });

  it("pages through a job's targets by targetsCursor, all of them and those in one state", async () => {
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await call<{ id: string }>('POST', '/jobs', {
      ...admin,
      json: { type: 'install', packageId: pkg.id, targets: { computers: pagedNames }, scheduledAt },
    });
    expect(created.status).toBe(201);
    const jobId = created.body.id;
    const rows = await database.db
      .select({ id: jobTargets.targetId, name: jobTargets.name })
      .from(jobTargets)
      .where(eq(jobTargets.jobId, jobId))
      .orderBy(asc(jobTargets.name), asc(jobTargets.targetId));
    const failed = rows.filter((_, index) => index % 3 === 1);
    for (const target of failed) await setTarget(jobId, target.id, { state: 'failed' });

    const all = await everyTargetsPage(jobId, 'targetsLimit=5');
    expect(all).toHaveLength(Math.ceil(pagedNames.length / 5));
    for (const page of all) expect(page.targetsTotal).toBe(pagedNames.length);
    const names = all.flatMap((page) => page.targets.map((target) => target.name));
    expect(names).toEqual(rows.map((row) => row.name));
    expect(all.at(-1)!.targetsNextCursor).toBeNull();

    const onlyFailed = await everyTargetsPage(jobId, 'targetsLimit=2&state=failed');
    expect(onlyFailed).toHaveLength(Math.ceil(failed.length / 2));
    for (const page of onlyFailed) expect(page.targetsTotal).toBe(failed.length);
    const failedTargets = onlyFailed.flatMap((page) => page.targets);
    expect(failedTargets.map((target) => target.name)).toEqual(failed.map((row) => row.name));
    expect(failedTargets.every((target) => target.state === 'failed')).toBe(true);
    expect(onlyFailed.at(-1)!.targetsNextCursor).toBeNull();
  });

  it('refuses a malformed cursor and offset paging with 400 in the usual error shape', async () => {
    const computerCursor = (await call<Paged<unknown>>('GET', '/computers?limit=1', admin)).body.nextCursor!;
    const garbled = [
      ['/computers?cursor=not.a.cursor', 'cursor'],
      [`/relays?cursor=${Buffer.from('{"name": 1}').toString('base64url')}`, 'cursor'],
      // A cursor of another list: names where jobs have times and ids.
      [`/jobs?cursor=${computerCursor}`, 'cursor'],
      [`/jobs/${job.id}?targetsCursor=${computerCursor}`, 'targetsCursor'],
    ];
    for (const [path, parameter] of garbled) {
      const answer = await call<ErrorBody>('GET', path!, admin);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.code).toBe('invalid_input');
      expect(answer.body.error.details).toEqual([{ path: parameter, message: expect.stringContaining('pass') }]);
    }

    for (const path of ['/computers?offset=10', '/relays?limit=5&offset=0', '/jobs?offset=50']) {
      const answer = await call<ErrorBody>('GET', path, admin);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.code).toBe('invalid_input');
      expect(answer.body.error.message).toContain("offset is no longer accepted: lists page by cursor (pass the previous page's nextCursor as cursor)");
    }
    const targetsOffset = await call<ErrorBody>('GET', `/jobs/${job.id}?targetsLimit=1&targetsOffset=1`, admin);
    expect(targetsOffset.status).toBe(400);
    expect(targetsOffset.body.error.message).toContain('targetsNextCursor as targetsCursor');
  });

  it('targets the computers carrying every label a job names, besides those it names otherwise', async () => {
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const job = (json: unknown) => call<{ targets: { name: string }[] } & ErrorBody>('POST', '/jobs', { ...admin, json });
    const byLabel = await job({ type: 'install', packageId: pkg.id, targets: { labels: { site: 'kyoto', owner: 'it dept' }, computers: ['pc-1'] }, scheduledAt });
    expect([byLabel.status, byLabel.body.targets.map((target) => target.name)]).toEqual([201, ['pc-1', 'pc-labelled']]);
    const none = await job({ type: 'install', packageId: pkg.id, targets: { labels: { site: 'nowhere' } }, scheduledAt });
    expect([none.status, none.body.error.code]).toEqual([400, 'no_targets']);
    const transfer = await job({ type: 'transfer', packageId: pkg.id, targets: { labels: { site: 'kyoto' } } });
    expect([transfer.status, transfer.body.error.code]).toEqual([400, 'invalid_targets']);
    const empty = await job({ type: 'install', packageId: pkg.id, targets: { labels: {} } });
    expect([empty.status, empty.body.error.message]).toEqual([400, expect.stringContaining('name at least one label')]);
  });

  it('defines maintenance windows by name for jobs to name, refusing bad names, bad windows and unknown names', async () => {
    const window = { start: '22:00', end: '06:00', timezone: 'Asia/Tokyo' };
    const badName = await call<ErrorBody>('PUT', '/windows/-nights', { ...admin, json: window });
    expect([badName.status, badName.body.error.code]).toEqual([400, 'invalid_input']);
    const badWindow = await call<ErrorBody>('PUT', '/windows/nights', { ...admin, json: { ...window, end: '22:00' } });
    expect([badWindow.status, badWindow.body.error.details]).toEqual([400, [expect.objectContaining({ path: 'end' })]]);
    expect((await call<Paged<unknown>>('GET', '/windows', admin)).body.items).toEqual([]);

    const defined = await call<{ name: string; window: unknown }>('PUT', '/windows/nights', { ...admin, json: window });
    expect([defined.status, defined.body.name, defined.body.window]).toEqual([201, 'nights', window]);
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const job = (json: object) => call<{ window: unknown; windowName: string | null } & ErrorBody>('POST', '/jobs', { ...admin, json: { packageId: pkg.id, targets: { computers: ['pc-1'] }, scheduledAt, ...json } });
    const named = await job({ type: 'install', window: 'nights' });
    expect([named.status, named.body.window, named.body.windowName]).toEqual([201, window, 'nights']);
    const unknown = await job({ type: 'install', window: 'weekends' });
    expect([unknown.status, unknown.body.error.code, unknown.body.error.message]).toEqual([400, 'unknown_window', expect.stringContaining('PUT /api/v1/windows/weekends')]);
    expect((await job({ type: 'transfer', targets: { relays: ['relay-1'] }, window: 'nights' })).status).toBe(400);

    expect((await call('DELETE', '/windows/nights', admin)).status).toBe(200);
    const gone = await call<ErrorBody>('DELETE', '/windows/nights', admin);
    expect([gone.status, gone.body.error.code]).toEqual([404, 'window_not_found']);
    const audit = (await call<Paged<{ action: string; subject: string; outcome: string }>>('GET', '/audit?limit=10', admin)).body.items;
    expect(audit.filter((entry) => entry.subject === 'window:nights').map((entry) => `${entry.action} ${entry.outcome}`)).toEqual([
      'window.delete window_not_found',
      'window.delete ok',
      'window.define created',
      'window.define invalid_input',
    ]);
  });

  it('a dynamic job may start with no computer, shows each that gains its labels as it joins, and validates', async () => {
    type Joined = { id: string; joined: number | null; targetsTotal: number; targets: { name: string; joinedAt: string | null }[] } & ErrorBody;
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const job = (json: unknown) => call<Joined>('POST', '/jobs', { ...admin, json });
    const labels = { ring: 'dynamic-api' };
    const withoutLabels = await job({ type: 'install', packageId: pkg.id, targets: { computers: ['pc-1'], dynamic: true }, scheduledAt });
    expect([withoutLabels.status, withoutLabels.body.error.details]).toEqual([400, [{ path: 'targets.dynamic', message: expect.stringContaining('name targets.labels') }]]);
    const rolledOut = await job({ type: 'install', packageId: pkg.id, targets: { labels, dynamic: true }, rollout: { waves: ['50%'] }, scheduledAt });
    expect([rolledOut.status, rolledOut.body.error.code]).toEqual([400, 'no_targets']);

    const created = await job({ type: 'install', packageId: pkg.id, targets: { labels, dynamic: true }, scheduledAt });
    expect([created.status, created.body.targetsTotal, created.body.joined]).toEqual([201, 0, 0]);
    const statics = await job({ type: 'install', packageId: pkg.id, targets: { computers: ['pc-1'] }, scheduledAt });
    expect(statics.body.joined).toBeNull();

    const before = Date.now();
    expect((await call('PATCH', '/computers/pc-2', { ...admin, json: { labels } })).status).toBe(200);
    const view = (await call<Joined>('GET', `/jobs/${created.body.id}`, admin)).body;
    expect([view.joined, view.targets.map((target) => target.name)]).toEqual([1, ['pc-2']]);
    expect(Date.parse(view.targets[0]!.joinedAt!)).toBeGreaterThanOrEqual(before - 1000);
    // Labelling it again changes nothing: it is a target already.
    await call('PATCH', '/computers/pc-2', { ...admin, json: { labels: { ...labels, extra: 'yes' } } });
    expect((await call<Joined>('GET', `/jobs/${created.body.id}`, admin)).body.joined).toBe(1);
    await call('PATCH', '/computers/pc-2', { ...admin, json: { labels: { ring: null, extra: null } } });
  });
});
