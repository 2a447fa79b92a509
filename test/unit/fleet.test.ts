/**
 * The fleet simulator in-process against the fake managing server: many real agents behind one listener,
 * reached by name, switched off and on, with only the install command simulated and its runs counted.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/deps.js';
import { Fleet } from '../../agent/fleet/fleet.js';
import { planFleet, shardOf } from '../../agent/fleet/plan.js';
import { seededRandom } from '../../agent/fleet/random.js';
import { SimulatedInstalls } from '../../agent/fleet/simulated-install.js';
import type { CommandRequest } from '../../agent/run-command.js';
import type { DownloadSource, Order } from '../../common/orders.js';
import { signTicket } from '../../trust/orders.js';
import { ENROLL_SECRET, FakeManagingServer, type TestPackage } from '../support/fake-managing-server.js';

const HOUR = 3_600_000;

describe('fleet plan', () => {
  const plan = planFleet({ computers: 12, relays: 3, direct: 2, offline: 0.25, deadRelays: 1, prefix: 't' }, seededRandom(7));

  it('names relays and computers in order and spreads computers round-robin over the relays after the direct ones', () => {
    expect(plan.relays.map((relay) => relay.name)).toEqual(['t-relay-01', 't-relay-02', 't-relay-03']);
    expect(plan.computers[0]?.name).toBe('t-pc-00001');
    expect(plan.computers.slice(0, 2).map((computer) => computer.relayName)).toEqual([undefined, undefined]);
    expect(plan.computers.slice(2, 6).map((computer) => computer.relayName)).toEqual(['t-relay-01', 't-relay-02', 't-relay-03', 't-relay-01']);
  });

  it('switches off the asked fraction of computers, the same ones for the same seed, and the last relays', () => {
    const offline = plan.computers.filter((computer) => computer.offline).map((computer) => computer.name);
    expect(offline).toHaveLength(3);
    const again = planFleet({ computers: 12, relays: 3, direct: 2, offline: 0.25, deadRelays: 1, prefix: 't' }, seededRandom(7));
    expect(again.computers.filter((computer) => computer.offline).map((computer) => computer.name)).toEqual(offline);
    expect(plan.relays.map((relay) => relay.offline)).toEqual([false, false, true]);
  });

  it('splits into shards that each hold some relays with exactly their computers, and together the whole plan', () => {
    const shards = [0, 1].map((index) => shardOf(plan, { index, count: 2 }));
    expect(shards.map((shard) => shard.relays.map((relay) => relay.name))).toEqual([['t-relay-01', 't-relay-03'], ['t-relay-02']]);
    for (const shard of shards) {
      const relays = new Set(shard.relays.map((relay) => relay.name));
      expect(shard.computers.filter((computer) => computer.relayName && !relays.has(computer.relayName))).toEqual([]);
    }
    const names = (part: typeof plan) => [...part.relays, ...part.computers].map((agent) => agent.name).sort();
    expect([...names(shards[0]!), ...names(shards[1]!)].sort()).toEqual(names(plan));
    // The draw of offline computers is the whole plan's, whichever shard runs them.
    expect(shards.flatMap((shard) => shard.computers.filter((computer) => computer.offline)).length).toBe(3);
    expect(shardOf(plan, { index: 0, count: 1 })).toBe(plan);
  });

  it('widens the numbers only when the count needs it', () => {
    const big = planFleet({ computers: 123_456, relays: 0, direct: 0, offline: 0, deadRelays: 0, prefix: 'b' }, seededRandom(1));
    expect(big.computers.at(-1)?.name).toBe('b-pc-123456');
    expect(big.computers[0]?.name).toBe('b-pc-000001');
  });
});

describe('simulated install command', () => {
  const request = (jobId: string, timeoutMs = 60_000): CommandRequest => ({
    command: 'sh install.sh',
    cwd: '/nonexistent',
    env: { COURIER_JOB_ID: jobId, COURIER_PACKAGE_NAME: 'app', COURIER_PACKAGE_VERSION: '1.0' },
    timeoutMs,
    signal: new AbortController().signal,
  });

  it('exits 0 or, at the fail rate, 1 with output, and counts its runs by computer and job', async () => {
    const passing = new SimulatedInstalls({ installMs: 1, failRate: 0, random: seededRandom(1) });
    expect(await passing.runnerFor('pc-1')(request('job-1'))).toMatchObject({ outcome: 'exited', exitCode: 0 });
    await passing.runnerFor('pc-1')(request('job-1'));
    expect(passing.runsByComputer()).toEqual({ 'pc-1': { 'job-1': 2 } });
    expect(passing.summary().repeated).toEqual([{ computer: 'pc-1', jobId: 'job-1', runs: 2 }]);

    const failing = new SimulatedInstalls({ installMs: 1, failRate: 1, random: seededRandom(1) });
    const failed = await failing.runnerFor('pc-2')(request('job-2'));
    expect(failed).toMatchObject({ outcome: 'exited', exitCode: 1, outputTail: expect.stringContaining('failed') });
    expect(failing.summary()).toMatchObject({ runs: 1, failures: 1, repeated: [] });
  });

  it('times out like a real command when the install takes longer than the package allows', async () => {
    const slow = new SimulatedInstalls({ installMs: 5_000, failRate: 0, random: seededRandom(1) });
    expect(await slow.runnerFor('pc-1')(request('job-1', 20))).toMatchObject({ outcome: 'timed_out' });
  });
});

describe('fleet on one listener', () => {
  let base: string;
  let server: FakeManagingServer;
  let fleet: Fleet;
  let pkg: TestPackage;

  const urlOf = (name: string) => `${fleet.url}/agents/${name}`;
  const order = (fields: Record<string, unknown>, name: string): Buffer =>
    server.seal({
      ...fields,
      agentId: server.idOf(name),
      issuedAt: new Date().toISOString(),
      validUntil: new Date(Date.now() + HOUR).toISOString(),
    } as unknown as Order);
  const install = (computer: string, jobId: string, source: DownloadSource) =>
    server.follow(urlOf(computer), order({ kind: 'install', jobId, package: pkg.signed, source }, computer));
  const viaRelay = (relay: string, computer: string): DownloadSource => ({
    url: `${urlOf(relay)}/packages/${pkg.packageId}/content`,
    via: 'relay',
    ticket: signTicket(server.key, { packageId: pkg.packageId, computerId: server.idOf(computer), expiresAt: new Date(Date.now() + HOUR).toISOString() }),
  });
  const reachable = async (url: string) => {
    try {
      return (await fetch(`${url}/health`)).status === 200;
    } catch {
      return false;
    }
  };
  const stats = async (): Promise<any> => (await fetch(`${fleet.url}/fleet/stats`)).json();

  beforeAll(async () => {
    ({ server, base } = await FakeManagingServer.startInTempDir('courier-fleet-'));
    fleet = new Fleet(
      {
        computers: 5,
        relays: 2,
        direct: 1,
        offline: 0.2,
        deadRelays: 1,
        prefix: 'u',
        serverUrl: server.url,
        enrollSecret: ENROLL_SECRET,
        dataDir: join(base, 'fleet'),
        host: '127.0.0.1',
        port: 0,
        installMs: 20,
        failRate: 0,
        seed: 3,
        enrolConcurrency: 4,
      },
      { fetch: (input, init) => fetch(input, init), clock: systemClock, log: () => undefined, agentLog: () => undefined, memory: () => ({ rssBytes: 0, heapUsedBytes: 0 }) },
    );
    await fleet.start();
    pkg = await server.makePackage({ installCommand: 'sh install.sh' });
  });

  afterAll(async () => {
    await fleet?.stop();
    await server?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('enrols every agent with its URL under the one listener; switched-off ones do not answer', async () => {
    expect([...server.enrolled.keys()].sort()).toEqual(['u-pc-00001', 'u-pc-00002', 'u-pc-00003', 'u-pc-00004', 'u-pc-00005', 'u-relay-01', 'u-relay-02']);
    for (const [name, { url }] of server.enrolled) expect(url).toBe(urlOf(name));
    const offline = fleet.plan.computers.filter((computer) => computer.offline).map((computer) => computer.name);
    expect(offline).toHaveLength(1);
    expect(await reachable(urlOf(offline[0]!))).toBe(false);
    expect(await reachable(urlOf('u-relay-02'))).toBe(false);
    expect(await reachable(urlOf('u-relay-01'))).toBe(true);
    expect(await reachable(urlOf('u-nobody'))).toBe(false);
    expect((await stats()).offline.sort()).toEqual([offline[0], 'u-relay-02'].sort());
  });

  it('installs through the real agent code, from a relay and from the server, each command run once', async () => {
    const computer = fleet.plan.computers.find((agent) => agent.relayName === 'u-relay-01' && !agent.offline)!.name;
    const direct = 'u-pc-00001';
    const store = order(
      { kind: 'store', jobId: 'job-1', package: pkg.signed, sourceUrl: `${server.url}/api/v1/packages/${pkg.packageId}/content`, expiresAt: new Date(Date.now() + HOUR).toISOString() },
      'u-relay-01',
    );
    expect(await server.follow(urlOf('u-relay-01'), store)).toMatchObject({ state: 'stored' });
    expect(await install(computer, 'job-1', viaRelay('u-relay-01', computer))).toMatchObject({ state: 'installed', exitCode: 0 });
    const viaServer = { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server' as const, ticket: '' };
    expect(await install(direct, 'job-1', viaServer)).toMatchObject({ state: 'installed' });
    // A repeated order is a status query: the command does not run again.
    expect(await install(computer, 'job-1', viaRelay('u-relay-01', computer))).toMatchObject({ state: 'installed' });

    const now = await stats();
    expect(now.installRuns).toEqual({ [computer]: { 'job-1': 1 }, [direct]: { 'job-1': 1 } });
    expect(now.installs).toEqual({ runs: 2, failures: 0, repeated: [] });
    expect(now.orders).toEqual({ store: { stored: 1 }, install: { installed: 2 } });
    const size = pkg.bytes.length;
    expect(now.bytesDownloaded).toEqual({ computersFromRelays: size, computersFromServer: size, relaysFromServer: size });
  });

  it('switches a machine off and back on through the control routes', async () => {
    const name = 'u-relay-01';
    const off = await fetch(`${fleet.url}/fleet/agents/${name}/offline`, { method: 'POST' });
    expect(await off.json()).toEqual({ name, online: false });
    expect(await reachable(urlOf(name))).toBe(false);
    await fetch(`${fleet.url}/fleet/agents/${name}/online`, { method: 'POST' });
    expect(await reachable(urlOf(name))).toBe(true);
    expect((await fetch(`${fleet.url}/fleet/agents/u-nobody/online`, { method: 'POST' })).status).toBe(404);
  });
});
