/**
 * The three job types on the fleet simulator against the real stack, at a size where paging, several
 * batches, continue-as-new and stragglers all happen: 3,000 computers behind 5 relays (and some served
 * directly), 5 % of them switched off, and one relay dead. Every target must end in its true state and no
 * install command may run twice; a cancel must reach computers whose install had not started.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningFleet } from '../support/fleet.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ENROLL_SECRET, TestStack } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

const COMPUTERS = 3000;
const RELAYS = 5;
const DIRECT = 300;

let stack: TestStack;
let fleet: RunningFleet;
/** Computer name → the name of its relay, null when the managing server serves it. */
const relayOf = new Map<string, string | null>();

interface TargetView {
  name: string;
  state: string;
  detail: string | null;
}

async function newPackage(name: string): Promise<{ id: string; size: number }> {
  const upload = await uploadPackage(stack, { name, version: '1.0.0', installCommand: 'sh install.sh' }, await makeTarGz({ 'install.sh': 'true\n' }));
  expect(upload.status).toBe(201);
  return upload.body;
}

/** Creates a job, runs `during` while it works, waits for it to end, and returns its view with every target. */
async function runJob(
  request: object,
  timeoutMs: number,
  during?: (jobId: string) => Promise<void>,
): Promise<{ id: string; status: string; targets: TargetView[] }> {
  const created = await stack.request('POST', '/jobs', request);
  expect(created.status).toBe(201);
  await during?.(created.body.id);
  await stack.finishedJob(created.body.id, timeoutMs);
  const { body } = await stack.request('GET', `/jobs/${created.body.id}?targetsLimit=10000`);
  return body;
}

function inSeconds(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

/** The state a computer must end in when its job reached it: what is switched off or behind a dead relay cannot install. */
function expectedInstallState(name: string): string {
  // Behind a dead relay, a computer is never even tried: it fails with the relay's reason, switched on or not.
  if (fleet.ready.deadRelays.includes(relayOf.get(name) ?? '')) return 'failed';
  if (fleet.ready.offline.includes(name)) return 'unreachable';
  return 'installed';
}

beforeAll(async () => {
  stack = await TestStack.start();
  fleet = await RunningFleet.start(
    {
      server: stack.apiUrl,
      enrollSecret: ENROLL_SECRET,
      computers: COMPUTERS,
      relays: RELAYS,
      direct: DIRECT,
      offline: 0.05,
      deadRelays: 1,
      installMs: 200,
      namePrefix: 'fj',
      dataDir: join(stack.dataDir, 'fleet'),
      enrollConcurrency: 32,
    },
    300_000,
  );
  const { body } = await stack.request('GET', `/computers?limit=${COMPUTERS + 100}`);
  expect(body.nextCursor).toBeNull();
  const computers: { name: string; relay: { name: string } | null }[] = body.items;
  for (const computer of computers) relayOf.set(computer.name, computer.relay?.name ?? null);
}, 600_000);

afterAll(async () => {
  await fleet?.stop();
  await stack?.stop();
});

// The three job types run side by side, each with a package of its own: the install job spends most of
// its time waiting for its deadline, when the switched-off computers are given up on.
describe('jobs on a simulated fleet of 3,000 computers', () => {
  it.concurrent('an install job ends every computer in its true state, nothing installed twice', async () => {
    // States tell the truth: once the live relays hold the package (they are staged in the first seconds),
    // only computers behind the dead relay may read waiting_for_relay, whatever batch they are in.
    const waitingBehind = new Set<string | null | undefined>();
    const sampleWaiting = async (jobId: string) => {
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      const { body } = await stack.request('GET', `/jobs/${jobId}?targetsLimit=10000`);
      for (const target of body.targets as TargetView[]) if (target.state === 'waiting_for_relay') waitingBehind.add(relayOf.get(target.name));
    };
    const installing = await newPackage('fleet-install');
    const job = await runJob({ type: 'install', packageId: installing.id, targets: { all: true }, deadline: inSeconds(90) }, 400_000, sampleWaiting);
    expect([...waitingBehind].filter((relay) => !fleet.ready.deadRelays.includes(relay ?? ''))).toEqual([]);
    const mine = job.targets.filter((target) => relayOf.has(target.name));
    expect(mine).toHaveLength(COMPUTERS);
    const wrong = mine.filter((target) => target.state !== expectedInstallState(target.name));
    expect(wrong.slice(0, 5)).toEqual([]);
    const behindDead = mine.find((target) => expectedInstallState(target.name) === 'failed')!;
    expect(behindDead.detail).toMatch(/relay/);
    const offline = mine.find((target) => target.state === 'unreachable')!;
    expect(offline.detail).toMatch(/gave up at the job's deadline/);
    expect(job.status).toBe('completed_with_errors');

    const stats = await fleet.stats();
    expect(stats.installs.repeated).toEqual([]);
    const installed = mine.filter((target) => target.state === 'installed').length;
    const runs = Object.values(stats.installRuns as Record<string, Record<string, number>>).filter((byJob) => byJob[job.id]).length;
    expect(runs).toBe(installed);
  }, 600_000);

  it.concurrent('a transfer job stores a package on every live relay and fails the dead one at the deadline', async () => {
    const transferred = await newPackage('fleet-transfer');
    const job = await runJob({ type: 'transfer', packageId: transferred.id, targets: { all: true }, deadline: inSeconds(20) }, 120_000);
    const mine = job.targets.filter((target) => target.name.startsWith('fj-relay-'));
    expect(mine).toHaveLength(RELAYS);
    for (const relay of mine) {
      const dead = fleet.ready.deadRelays.includes(relay.name);
      expect([relay.name, relay.state]).toEqual([relay.name, dead ? 'failed' : 'stored']);
    }
  }, 180_000);

  it.concurrent('an offer job reaches every live computer; choices are carried out, the silent expire', async () => {
    const offered = await newPackage('fleet-offer');
    const targets = [...relayOf.keys()].sort().slice(0, 600);
    const created = await stack.request('POST', '/jobs', { type: 'offer', packageId: offered.id, targets: { computers: targets }, deadline: inSeconds(60) });
    expect(created.status).toBe(201);
    const jobId: string = created.body.id;
    const live = targets.filter((name) => expectedInstallState(name) === 'installed');
    const choosers = live.slice(0, 20);
    // Each user chooses through their agent's own token, as the self-service page would.
    await eventually(async () => {
      const { body } = await stack.request('GET', `/jobs/${jobId}?targetsLimit=10000`);
      const offered = new Set(body.targets.filter((target: TargetView) => target.state === 'offered').map((target: TargetView) => target.name));
      return choosers.every((name) => offered.has(name)) ? true : undefined;
    }, 60_000, 'the offers to reach the choosers');
    for (const [index, name] of choosers.entries()) {
      const identity = JSON.parse(await readFile(join(fleet.ready.dataDir, name, 'identity.json'), 'utf8'));
      const answer = await fetch(`${stack.apiUrl}/api/v1/jobs/${jobId}/choices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${identity.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ choice: index % 2 === 0 ? 'install' : 'decline' }),
      });
      expect(answer.status).toBe(202);
    }
    await stack.finishedJob(jobId, 180_000);
    const { body: job } = await stack.request('GET', `/jobs/${jobId}?targetsLimit=10000`);
    const states = new Map<string, string>(job.targets.map((target: TargetView) => [target.name, target.state]));
    for (const [index, name] of choosers.entries()) expect([name, states.get(name)]).toEqual([name, index % 2 === 0 ? 'installed' : 'declined']);
    for (const name of targets) {
      if (choosers.includes(name)) continue;
      const expected = { installed: 'expired', unreachable: 'unreachable', failed: 'failed' }[expectedInstallState(name)];
      expect([name, states.get(name)]).toEqual([name, expected]);
    }
  }, 300_000);
});

describe('cancel on a simulated fleet', () => {
  it('reaches computers whose install had not started: their orders end cancelled and never run', async () => {
    // Fifty computers whose installs take long: a first job keeps them busy, so the second job's orders
    // arrive and wait for the computer's install lock when the second job is cancelled.
    const slow = await RunningFleet.start({
      server: stack.apiUrl,
      enrollSecret: ENROLL_SECRET,
      computers: 50,
      direct: 50,
      installMs: 20_000,
      namePrefix: 'slow',
      dataDir: join(stack.dataDir, 'slow-fleet'),
    });
    try {
      const names = Array.from({ length: 50 }, (_, index) => `slow-pc-${String(index + 1).padStart(5, '0')}`);
      const installOrders = async (state: string) => ((await slow.stats()).orders.install?.[state] ?? 0) as number;
      const busy = await stack.request('POST', '/jobs', { type: 'install', packageId: (await newPackage('busy')).id, targets: { computers: names } });
      await eventually(async () => ((await installOrders('installing')) === 50 ? true : undefined), 60_000, 'the first job to be installing everywhere');
      const second = await stack.request('POST', '/jobs', { type: 'install', packageId: (await newPackage('second')).id, targets: { computers: names } });
      const secondId: string = second.body.id;
      await eventually(async () => ((await installOrders('downloading')) === 50 ? true : undefined), 60_000, "the second job's orders to wait on every computer");
      expect((await stack.request('POST', `/jobs/${secondId}/cancel`)).status).toBeLessThan(300);
      const cancelled = await stack.finishedJob(secondId, 120_000);
      expect(cancelled.status).toBe('cancelled');
      const { body } = await stack.request('GET', `/jobs/${secondId}?targetsLimit=100`);
      // Whether the order's own last status query or the cancel order's answer recorded it, the computer says it stopped.
      for (const target of body.targets as TargetView[]) {
        expect([target.name, target.state, target.detail]).toEqual([target.name, 'cancelled', expect.stringMatching(/cancelled|stopped its order/)]);
      }
      await stack.finishedJob(busy.body.id, 120_000);
      const stats = await slow.stats();
      const secondRuns = Object.values(stats.installRuns as Record<string, Record<string, number>>).filter((byJob) => byJob[secondId]);
      expect(secondRuns).toEqual([]);
      expect(stats.installs.repeated).toEqual([]);
    } finally {
      await slow.stop();
    }
  }, 300_000);
});
