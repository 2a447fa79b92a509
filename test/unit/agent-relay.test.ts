/**
 * A real relay agent on loopback, driven by the fake managing server: it stores what it is sent after
 * verifying it, serves it to ticket holders with Range, deletes copies when told or when they expire, and
 * keeps everything across a restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order } from '../../common/orders.js';
import { signTicket } from '../../trust/orders.js';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';

let base: string;
let server: FakeManagingServer;
let relay: RunningAgent;

function startRelay(): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'relay', name: 'relay-1', dataDir: join(base, 'relay-1'), sweepIntervalMs: 100 });
}

/** A store order for `relay`, but for its seal: other relays put their own id in. */
function storeOrderFields(pkg: TestPackage, jobId: string, expiresAt = new Date(Date.now() + 3_600_000).toISOString()) {
  return {
    kind: 'store' as const,
    jobId,
    agentId: server.idOf(relay.name),
    ...issuedNow(),
    package: pkg.signed,
    sourceUrl: `${server.url}/api/v1/packages/${pkg.packageId}/content`,
    expiresAt,
  };
}

function storeOrder(pkg: TestPackage, jobId: string, expiresAt?: string): Buffer {
  return server.seal(storeOrderFields(pkg, jobId, expiresAt));
}

function deleteOrder(pkg: TestPackage, jobId: string, expiresAt: string): Buffer {
  return server.seal({ kind: 'delete', jobId, agentId: server.idOf(relay.name), ...issuedNow(), packageId: pkg.packageId, expiresAt });
}

function ticketFor(pkg: TestPackage): string {
  return signTicket(server.key, { packageId: pkg.packageId, computerId: 'any-computer', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
}

function storeOnRelay(pkg: TestPackage, jobId: string) {
  return server.follow(relay.url, storeOrder(pkg, jobId));
}

function relayContent(pkg: TestPackage, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${relay.url}/packages/${pkg.packageId}/content`, { headers });
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-relay-'));
  relay = await startRelay();
});

afterAll(async () => {
  await relay?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('relay', () => {
  it('stores a package after verifying it and serves it to holders of a ticket, with Range', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const stored = await storeOnRelay(pkg, 'job-store-1');
    expect(stored).toMatchObject({ state: 'stored', kind: 'store', jobId: 'job-store-1', bytes: pkg.bytes.length });

    const whole = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(pkg.bytes)).toBe(true);

    const part = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg), range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(pkg.bytes.subarray(10, 20))).toBe(true);

    expect((await relayContent(pkg)).status).toBe(403);
    const other = await server.makePackage({ installCommand: 'true' });
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(other) })).status).toBe(403);
  });

  it('serves its computers, all together, at the bandwidth limit its check-in names', async () => {
    const limit = 100_000;
    server.bandwidthLimits.set('relay-limited', limit);
    const limited = await startTestAgent(server, { role: 'relay', name: 'relay-limited', dataDir: join(base, 'relay-limited') });
    try {
      const pkg = await server.makePackage({ installCommand: 'true', files: { 'payload.txt': randomBytes(150_000).toString('base64') } });
      const order = server.seal({ ...storeOrderFields(pkg, 'job-limited'), agentId: server.idOf('relay-limited') });
      expect(await server.follow(limited.url, order)).toMatchObject({ state: 'stored' });
      const started = Date.now();
      const download = () => fetch(`${limited.url}/packages/${pkg.packageId}/content`, { headers: { 'x-courier-ticket': ticketFor(pkg) } });
      const bodies = await Promise.all([download(), download()].map(async (answer) => Buffer.from(await (await answer).arrayBuffer())));
      for (const body of bodies) expect(body.equals(pkg.bytes)).toBe(true);
      // Two downloads share the limit; each may send one chunk (64 KiB) before the pacing starts.
      expect(Date.now() - started).toBeGreaterThanOrEqual(((2 * pkg.bytes.length - 2 * 65_536) / limit) * 1000);
    } finally {
      await limited.agent.stop();
    }
  });

  it('answers a store order for a copy it holds intact with that expiry at once, fetching nothing', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    expect(await server.follow(relay.url, storeOrder(pkg, 'job-first', expiresAt))).toMatchObject({ state: 'stored', bytes: pkg.bytes.length });
    const again = await server.send(relay.url, storeOrder(pkg, 'job-second', expiresAt));
    expect(again.body).toMatchObject({ state: 'stored', expiresAt, bytes: 0 });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
  });

  it('fetches the package again for a store order with another expiry (a retransfer)', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    await storeOnRelay(pkg, 'job-transfer-1');
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const retransfer = await server.follow(relay.url, storeOrder(pkg, 'job-transfer-2', later));
    expect(retransfer).toMatchObject({ state: 'stored', expiresAt: later, bytes: pkg.bytes.length });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(2);
    const metadata = JSON.parse(await readFile(join(relay.dataDir, 'packages', `${pkg.packageId}.json`), 'utf8')) as { expiresAt: string };
    expect(metadata.expiresAt).toBe(later);
  });

  it('resumes an interrupted transfer with Range', async () => {
    const pkg = await server.makePackage({ installCommand: 'true', files: { 'big.bin': randomBytes(64 * 1024).toString('hex') } });
    const half = Math.floor(pkg.bytes.length / 2);
    await writeFile(join(relay.dataDir, 'packages', `${pkg.packageId}.partial`), pkg.bytes.subarray(0, half));
    expect(await storeOnRelay(pkg, 'job-resume')).toMatchObject({ state: 'stored' });
    expect(server.requestsFor(pkg.packageId)).toEqual([{ packageId: pkg.packageId, range: `bytes=${half}-` }]);
    const served = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(Buffer.from(await served.arrayBuffer()).equals(pkg.bytes)).toBe(true);
  });

  it('fails a transfer whose content does not match the signed manifest, keeping nothing', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    await writeFile(pkg.path, Buffer.alloc(pkg.bytes.length, 7));
    const status = await storeOnRelay(pkg, 'job-bad-transfer');
    expect(status.state).toBe('failed');
    expect(status.detail).toMatch(/SHA-256 .* does not match the signed manifest/);
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) })).status).toBe(404);
  });

  it('never serves a copy damaged on its disk: it fetches the package again, or drops the copy when it cannot', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
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
    expect(existsSync(contentPath)).toBe(false);
    expect(existsSync(join(relay.dataDir, 'packages', `${pkg.packageId}.json`))).toBe(false);
  });

  it('deletes the copy whose expiry a delete order names, and answers deleted when it holds none', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await server.follow(relay.url, storeOrder(pkg, 'job-keep', expiresAt));
    expect((await server.send(relay.url, deleteOrder(pkg, 'job-delete', expiresAt))).body).toMatchObject({ state: 'deleted', detail: 'the copy was deleted' });
    expect((await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) })).status).toBe(404);
    const again = await server.send(relay.url, deleteOrder(pkg, 'job-delete-again', expiresAt));
    expect(again.body).toMatchObject({ state: 'deleted', detail: 'the relay held no copy' });
  });

  it('keeps a fresher copy than the one a delete order names (a retransfer stored it meanwhile)', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const first = new Date(Date.now() + 3_600_000).toISOString();
    const fresh = new Date(Date.now() + 7_200_000).toISOString();
    await server.follow(relay.url, storeOrder(pkg, 'job-old-copy', first));
    await server.follow(relay.url, storeOrder(pkg, 'job-fresh-copy', fresh));
    const kept = await server.send(relay.url, deleteOrder(pkg, 'job-delete-old', first));
    expect(kept.body).toMatchObject({ kind: 'delete', state: 'stored', expiresAt: fresh, detail: expect.stringMatching(/^kept: /) });
    const served = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(Buffer.from(await served.arrayBuffer()).equals(pkg.bytes)).toBe(true);
    const metadata = JSON.parse(await readFile(join(relay.dataDir, 'packages', `${pkg.packageId}.json`), 'utf8')) as { expiresAt: string };
    expect(metadata.expiresAt).toBe(fresh);
  });

  it('deletes a copy once its expiry has passed', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    expect(await server.follow(relay.url, storeOrder(pkg, 'job-short-lived', expiresAt))).toMatchObject({ state: 'stored', expiresAt });
    const metadata = join(relay.dataDir, 'packages', `${pkg.packageId}.json`);
    expect(existsSync(metadata)).toBe(true);
    const deadline = Date.now() + 10_000;
    while ((existsSync(metadata)) && Date.now() < deadline) await sleep(50);
    expect(existsSync(metadata)).toBe(false);
  });

  it('keeps its copies and their expiry across a restart', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await server.follow(relay.url, storeOrder(pkg, 'job-before-restart', expiresAt));
    await relay.agent.stop();
    relay = await startRelay();
    const served = await relayContent(pkg, { 'x-courier-ticket': ticketFor(pkg) });
    expect(Buffer.from(await served.arrayBuffer()).equals(pkg.bytes)).toBe(true);
    expect((await server.send(relay.url, storeOrder(pkg, 'job-after-restart', expiresAt))).body).toMatchObject({ state: 'stored', bytes: 0 });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
  });

  it('refuses install, offer and cancel orders, which are for computers', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const base = { jobId: 'job-x', agentId: server.idOf(relay.name), ...issuedNow() };
    const orders: Order[] = [
      { ...base, kind: 'install', package: pkg.signed, source: { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server', ticket: '' } },
      { ...base, kind: 'offer', package: pkg.signed, deadline: new Date(Date.now() + 3_600_000).toISOString() },
      { ...base, kind: 'cancel', packageId: pkg.packageId },
    ];
    for (const order of orders) {
      const answer = await server.send(relay.url, server.seal(order));
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('wrong_role');
    }
  });
});
