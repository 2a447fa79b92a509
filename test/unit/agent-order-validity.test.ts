/**
 * Order validity on real agents: a new order received after its `validUntil` is refused, a known one is
 * still answered, and work left unfinished (a restart, a slow download) whose irreversible step has not
 * begun ends as `expired` instead of being carried out. The agents' clock is shifted forward instead of
 * waiting for orders to expire.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../agent/deps.js';
import type { Order } from '../../common/orders.js';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';
import { eventually } from '../support/temporal.js';

/** Past every order's validity here (a minute), yet within the tolerated age of a sealed order. */
const LATER_MS = 2 * 60_000;

let base: string;
let server: FakeManagingServer;
let computer: RunningAgent;
let relay: RunningAgent;
let shiftMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + shiftMs) };

function startComputer(): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'computer', name: 'pc-validity', dataDir: join(base, 'pc-validity'), clock });
}

function startRelay(): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'relay', name: 'relay-validity', dataDir: join(base, 'relay-validity'), clock });
}

function installOrder(pkg: TestPackage, jobId: string, validForMs = 60_000): Order {
  const source = { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server' as const, ticket: '' };
  return { kind: 'install', jobId, agentId: server.idOf(computer.name), ...issuedNow(validForMs), package: pkg.signed, source };
}

/** A package whose install command notes each run in `runs-<name>.log`. */
function countingPackage(name: string): Promise<TestPackage> {
  return server.makePackage({ installCommand: `echo run >> "$COURIER_TARGET_DIR/runs-${name}.log"` });
}

function ran(name: string): boolean {
  return existsSync(join(computer.dataDir, 'root', `runs-${name}.log`));
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-validity-'));
  computer = await startComputer();
  relay = await startRelay();
});

afterEach(() => {
  shiftMs = 0;
  server.contentGate = undefined;
  server.stalled.clear();
});

afterAll(async () => {
  await computer?.agent.stop();
  await relay?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('order validity', () => {
  it('refuses a new order received after its validUntil, doing nothing', async () => {
    const pkg = await countingPackage('late');
    const answer = await server.send(computer.url, server.seal(installOrder(pkg, 'job-late', -1000)));
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: 'expired', message: expect.stringMatching(/^the order was valid until /) });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(0);
    expect(ran('late')).toBe(false);
  });

  it('still answers a known order with its recorded status after its validUntil', async () => {
    const pkg = await countingPackage('known');
    const sealed = server.seal(installOrder(pkg, 'job-known'));
    expect(await server.follow(computer.url, sealed)).toMatchObject({ state: 'installed' });
    shiftMs = LATER_MS;
    expect(await server.send(computer.url, sealed)).toMatchObject({ status: 200, body: { state: 'installed', jobId: 'job-known' } });
  });

  it('refuses an order without validUntil as malformed', async () => {
    const pkg = await countingPackage('shapeless');
    const { validUntil: _dropped, ...shapeless } = installOrder(pkg, 'job-shapeless');
    const answer = await server.send(computer.url, server.seal(shapeless as Order));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_order', message: expect.stringContaining('validUntil') });
  });

  it('does not resume at a restart an install whose validity passed before its command started', async () => {
    const pkg = await countingPackage('resumed');
    server.stalled.add(pkg.packageId);
    const order = installOrder(pkg, 'job-resumed');
    const sealed = server.seal(order);
    await server.follow(computer.url, sealed, (status) => status.state === 'downloading' && (status.bytes ?? 0) > 0);
    await computer.agent.stop();
    shiftMs = LATER_MS;
    computer = await startComputer();
    const status = await server.follow(computer.url, sealed);
    expect(status).toMatchObject({ state: 'expired', detail: `the order expired at ${order.validUntil} before it could be carried out` });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
    expect(ran('resumed')).toBe(false);
  });

  it('does not install when the download ends after the order expired', async () => {
    const pkg = await countingPackage('slow');
    let release!: () => void;
    server.contentGate = new Promise((resolve) => (release = resolve));
    const sealed = server.seal(installOrder(pkg, 'job-slow'));
    expect((await server.send(computer.url, sealed)).body).toMatchObject({ state: 'downloading' });
    await eventually(async () => (server.requestsFor(pkg.packageId).length > 0 ? true : undefined), 10_000, 'the download to start');
    shiftMs = LATER_MS;
    release();
    expect(await server.follow(computer.url, sealed)).toMatchObject({ state: 'expired' });
    expect(ran('slow')).toBe(false);
  });

  it('does not resume at a restart a relay transfer whose validity passed', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    server.stalled.add(pkg.packageId);
    const order: Order = {
      kind: 'store',
      jobId: 'job-transfer',
      agentId: server.idOf(relay.name),
      ...issuedNow(60_000),
      package: pkg.signed,
      sourceUrl: `${server.url}/api/v1/packages/${pkg.packageId}/content`,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const sealed = server.seal(order);
    await server.follow(relay.url, sealed, (status) => status.state === 'transferring' && (status.bytes ?? 0) > 0);
    await relay.agent.stop();
    shiftMs = LATER_MS;
    relay = await startRelay();
    expect(await server.follow(relay.url, sealed)).toMatchObject({ state: 'expired' });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
    expect(existsSync(join(relay.dataDir, 'packages', `${pkg.packageId}.json`))).toBe(false);
  });
});
