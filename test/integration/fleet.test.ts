/**
 * The fleet simulator against the real stack: a thousand computers and three relays in one process enrol
 * through the api, switched-off machines are unreachable at their advertised URLs, and install jobs, from
 * the managing server and through the relays, run each simulated install command exactly once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningFleet } from '../support/fleet.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ENROLL_SECRET, TestStack, targetStates } from '../support/stack.js';

const COMPUTERS = 1000;
const RELAYS = 3;
/** The first computers have no relay: the managing server serves them. */
const DIRECT = 100;

let stack: TestStack;
let fleet: RunningFleet;
let tinyPackage: { id: string; size: number };

/** Names of computers number `from` to `to` that are switched on. */
function liveComputers(from: number, to: number): string[] {
  const offline = new Set(fleet.ready.offline);
  const names = Array.from({ length: to - from + 1 }, (_, index) => `fleet-it-pc-${String(from + index).padStart(5, '0')}`);
  return names.filter((name) => !offline.has(name));
}

/** Runs an install job of the tiny package on `targets`, expects every one installed, and returns the job's id. */
async function installOn(targets: string[]): Promise<string> {
  const created = await stack.request('POST', '/jobs', { type: 'install', packageId: tinyPackage.id, targets: { computers: targets } });
  expect(created.status).toBe(201);
  const done = await stack.finishedJob(created.body.id, 180_000);
  expect(Object.values(targetStates(done))).toEqual(targets.map(() => 'installed'));
  expect(done.status).toBe('completed');
  return created.body.id;
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).status === 200;
  } catch {
    return false;
  }
}

/** An inventory list that fits one page, with the fleet's own names only. */
async function inventory(path: string): Promise<{ name: string; url: string; computers?: number }[]> {
  const { status, body } = await stack.request('GET', path);
  expect(status).toBe(200);
  expect(body.nextCursor).toBeNull();
  const items: { name: string; url: string }[] = body.items;
  return items.filter((item) => item.name.startsWith(`${fleet.ready.namePrefix}-`));
}

beforeAll(async () => {
  stack = await TestStack.start();
  fleet = await RunningFleet.start({
    server: stack.apiUrl,
    enrollSecret: ENROLL_SECRET,
    computers: COMPUTERS,
    relays: RELAYS,
    direct: DIRECT,
    offline: 0.05,
    installMs: 200,
    namePrefix: 'fleet-it',
    dataDir: join(stack.dataDir, 'fleet'),
  });
  // The simulated command ignores the archive; a real one is uploaded so that download and verification are real.
  const upload = await uploadPackage(stack, { name: 'fleet-tiny', version: '1.0.0', installCommand: 'sh install.sh' }, await makeTarGz({ 'install.sh': 'true\n' }));
  expect(upload.status).toBe(201);
  tinyPackage = upload.body;
}, 300_000);

afterAll(async () => {
  await fleet?.stop();
  await stack?.stop();
});

describe('fleet simulator on the real stack', () => {
  it('enrols every computer and relay, computers spread over the relays, each at its URL on the one listener', async () => {
    expect(fleet.ready.offline).toHaveLength(COMPUTERS * 0.05);
    const relays = await inventory(`/relays?limit=${RELAYS + 10}`);
    expect(relays.map((relay) => relay.name)).toEqual(['fleet-it-relay-01', 'fleet-it-relay-02', 'fleet-it-relay-03']);
    // Round-robin over the relays after the directly served ones: the first relay takes the odd one out.
    expect(relays.map((relay) => relay.computers)).toEqual([300, 300, 300]);
    const computers = await inventory(`/computers?limit=${COMPUTERS + 10}`);
    expect(computers).toHaveLength(COMPUTERS);
    for (const computer of computers) expect(computer.url).toBe(fleet.agentUrl(computer.name));
  });

  it('leaves switched-off computers unreachable while live ones answer, and brings one back', async () => {
    const off = fleet.ready.offline[0]!;
    const live = fleet.ready.offline.includes('fleet-it-pc-00001') ? 'fleet-it-pc-00002' : 'fleet-it-pc-00001';
    expect(await healthy(fleet.agentUrl(off))).toBe(false);
    expect(await healthy(fleet.agentUrl(live))).toBe(true);
    await fleet.switchOn(off);
    expect(await healthy(fleet.agentUrl(off))).toBe(true);
    await fleet.switchOff(off);
    expect(await healthy(fleet.agentUrl(off))).toBe(false);
  });

  it('installs a package on live computers served by the managing server, each command run exactly once', async () => {
    const targets = liveComputers(1, DIRECT).slice(0, 20);
    const jobId = await installOn(targets);
    const stats = await fleet.stats();
    expect(stats.installs.repeated).toEqual([]);
    for (const name of targets) expect(stats.installRuns[name]).toEqual({ [jobId]: 1 });
    expect(stats.orders.install).toEqual({ installed: targets.length });
    expect(stats.bytesDownloaded.computersFromServer).toBe(targets.length * tinyPackage.size);
  }, 240_000);

  it('installs a package on fifty live computers through their relays, each command run exactly once', async () => {
    const targets = liveComputers(DIRECT + 1, COMPUTERS).slice(0, 50);
    const jobId = await installOn(targets);
    const stats = await fleet.stats();
    expect(stats.installs.repeated).toEqual([]);
    for (const name of targets) expect(stats.installRuns[name]).toEqual({ [jobId]: 1 });
    // Each relay fetched the package once from the managing server; computers read the relays' copies.
    expect(stats.bytesDownloaded).toMatchObject({ computersFromRelays: 50 * tinyPackage.size, relaysFromServer: RELAYS * tinyPackage.size });
  }, 240_000);
});
