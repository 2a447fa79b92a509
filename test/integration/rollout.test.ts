/**
 * Rollout control on the real stack: an install job in three waves whose second wave fails on every
 * computer pauses with the reason, with the third wave untouched; resuming it, with nothing replaced,
 * installs the third wave and ends `completed_with_errors` with the right counts. A paused rollout can be
 * cancelled. A job whose maintenance window opens later holds its computers `waiting_for_window` until then.
 * With downloadOutsideWindow the computers download before the window and install once it opens.
 * A dynamic job takes in computers enrolled with its label after it started (one behind a relay the job
 * had not staged on), and one an admin labels.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack } from '../support/stack.js';
import { connectClient, eventually } from '../support/temporal.js';

let stack: TestStack;
let packageId: string;
/** The computers in id order: the order waves take them in. */
let byId: { id: string; name: string }[];

const names = ['pc-1', 'pc-2', 'pc-3', 'pc-4', 'pc-5', 'pc-6'];

async function job(id: string) {
  return (await stack.request('GET', `/jobs/${id}`)).body;
}

async function whenStatus(id: string, status: string) {
  return eventually(async () => {
    const view = await job(id);
    return view.status === status ? view : undefined;
  }, 60_000, `job ${id} to be ${status}`);
}

/** What the Temporal UI shows of a job's workflow besides its summary. */
async function staticDetails(workflowId: string): Promise<string | undefined> {
  const { client, connection } = await connectClient();
  try {
    return await (await client.workflow.getHandle(workflowId).describe()).staticDetails();
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  stack = await TestStack.start();
  await Promise.all(names.map((name) => stack.startAgent({ role: 'computer', name })));
  const archive = await makeTarGz({
    'install.sh': '[ -e "$COURIER_TARGET_DIR/fail-install" ] && exit 3\necho ok > "$COURIER_TARGET_DIR/rolled-out"\n',
  });
  packageId = (await uploadPackage(stack, { name: 'rolled', version: '1.0.0', installCommand: 'sh install.sh' }, archive)).body.id;
  const listed = (await stack.request('GET', '/computers')).body.items as { id: string; name: string }[];
  byId = listed.sort((a, b) => (a.id < b.id ? -1 : 1));
  // The second wave's computers (third and fourth in id order) fail to install.
  for (const computer of byId.slice(2, 4)) await writeFile(join(stack.agents.get(computer.name)!.dataDir, 'root', 'fail-install'), '');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('rollout waves', () => {
  it('pauses above the failure threshold with the next wave untouched, and resumes to the end', async () => {
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId,
      targets: { computers: names },
      rollout: { waves: [2, '66%'], pauseSeconds: 1, failureThreshold: 0.5 },
    });
    expect(created.status).toBe(201);
    expect(created.body.rollout).toEqual({ waves: [2, '66%'], pauseSeconds: 1, failureThreshold: 0.5 });
    expect(created.body.waves.map((wave: { size: number }) => wave.size)).toEqual([2, 2, 2]);

    const paused = await whenStatus(created.body.id, 'paused');
    expect(paused.detail).toMatch(/^wave 2 of 3: 2 of 2 computers failed, above the failure threshold of 0\.5/);
    expect(paused.waves).toEqual([
      { index: 0, size: 2, counts: { installed: 2 } },
      { index: 1, size: 2, counts: { failed: 2 } },
      { index: 2, size: 2, counts: { pending: 2 } },
    ]);
    const stateOf = Object.fromEntries(paused.targets.map((target: { name: string; state: string }) => [target.name, target.state]));
    expect(byId.map((computer) => stateOf[computer.name])).toEqual(['installed', 'installed', 'failed', 'failed', 'pending', 'pending']);
    expect((await stack.request('POST', `/jobs/${created.body.id}/rerun`)).status).toBe(409);

    const resumed = await stack.request('POST', `/jobs/${created.body.id}/resume`);
    expect(resumed.status).toBe(202);
    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts, done.detail]).toEqual(['completed_with_errors', { installed: 4, failed: 2 }, null]);
    expect(done.waves[2]).toEqual({ index: 2, size: 2, counts: { installed: 2 } });
    expect((await stack.request('POST', `/jobs/${created.body.id}/resume`)).body.error.code).toBe('job_not_paused');
  });

  it('holds computers outside the maintenance window and installs once it opens', async () => {
    const healthy = byId.filter((_, index) => index < 2 || index >= 4).map((computer) => computer.name);
    const opensAt = new Date(Math.ceil((Date.now() + 5000) / 1000) * 1000);
    const start = opensAt.toISOString().slice(11, 19);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId,
      targets: { computers: healthy },
      reinstall: true,
      window: { start, end: new Date(opensAt.getTime() + 3_600_000).toISOString().slice(11, 19), timezone: 'UTC' },
    });
    expect(created.status).toBe(201);
    const held = await eventually(async () => {
      const view = await job(created.body.id);
      return view.counts.waiting_for_window === 4 ? view : undefined;
    }, 20_000, 'the computers to wait for the window');
    expect(held.targets[0].detail).toBe(`outside the maintenance window; it opens at ${opensAt.toISOString()}`);
    expect(Date.now()).toBeLessThan(opensAt.getTime());
    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts, done.window.start]).toEqual(['completed', { installed: 4 }, start]);
    for (const target of done.targets) expect(Date.parse(target.updatedAt)).toBeGreaterThanOrEqual(opensAt.getTime());
  });

  it('with downloadOutsideWindow, computers download before the window opens and install once it does', async () => {
    const healthy = byId.filter((_, index) => index < 2 || index >= 4).map((computer) => computer.name);
    const opensAt = new Date(Math.ceil((Date.now() + 8000) / 1000) * 1000);
    const clock = (at: Date) => at.toISOString().slice(11, 19);
    const window = { start: clock(opensAt), end: clock(new Date(opensAt.getTime() + 3_600_000)), timezone: 'UTC' };
    const refused = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { computers: healthy }, downloadOutsideWindow: true });
    expect([refused.status, refused.body.error.details[0].path]).toEqual([400, 'downloadOutsideWindow']);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId,
      targets: { computers: healthy },
      reinstall: true,
      window,
      downloadOutsideWindow: true,
    });
    expect([created.status, created.body.downloadOutsideWindow]).toEqual([201, true]);
    expect(await staticDetails(created.body.workflowId)).toContain('computers download before it opens and install only inside it');
    const downloaded = await eventually(async () => {
      const view = await job(created.body.id);
      return view.counts.waiting_for_window === 4 ? view : undefined;
    }, 20_000, 'the computers to download and wait for the window');
    expect(Date.now()).toBeLessThan(opensAt.getTime());
    expect(downloaded.targets[0].detail).toMatch(/^downloaded and verified; installs when the maintenance window opens at /);
    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts]).toEqual(['completed', { installed: 4 }]);
    for (const target of done.targets) expect(Date.parse(target.updatedAt)).toBeGreaterThanOrEqual(opensAt.getTime());
  });

  it('sends nothing outside the window, even at the deadline: computers still waiting then end cancelled', async () => {
    const healthy = byId.filter((_, index) => index < 2).map((computer) => computer.name);
    const opensAt = new Date(Date.now() + 3_600_000);
    const clock = (at: Date) => at.toISOString().slice(11, 16);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId,
      targets: { computers: healthy },
      reinstall: true,
      deadline: new Date(Date.now() + 4000).toISOString(),
      window: { start: clock(opensAt), end: clock(new Date(opensAt.getTime() + 60_000)), timezone: 'UTC' },
    });
    expect(created.status).toBe(201);
    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts]).toEqual(['completed_with_errors', { cancelled: 2 }]);
    for (const target of done.targets) expect([target.attempts, target.detail]).toEqual([0, expect.stringContaining('maintenance window')]);
  });

  it('cancels a paused rollout: the computers it never reached end cancelled', async () => {
    const failing = byId.slice(2, 4).map((computer) => computer.name);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId,
      targets: { computers: failing },
      rollout: { waves: [1], failureThreshold: 0 },
    });
    expect(created.status).toBe(201);
    await whenStatus(created.body.id, 'paused');
    expect((await stack.request('POST', `/jobs/${created.body.id}/cancel`)).status).toBe(202);
    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts]).toEqual(['cancelled', { failed: 1, cancelled: 1 }]);
  });
});

describe('dynamic targets', () => {
  it('installs on computers enrolled with a matching label after the job started (one behind a new relay) and on one an admin labels, until the deadline', async () => {
    const labels = { ring: 'late' };
    const [first, second] = byId.slice(0, 2);
    expect((await stack.request('PATCH', `/computers/${first!.name}`, { labels })).status).toBe(200);
    const deadline = new Date(Date.now() + 20_000).toISOString();
    const created = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { labels, dynamic: true }, reinstall: true, deadline });
    expect([created.status, created.body.targetsTotal, created.body.joined]).toEqual([201, 1, 0]);
    expect(await staticDetails(created.body.workflowId)).toContain('**Targets** 1 computer; computers that gain the labels ring=late join until the deadline');
    await eventually(async () => ((await job(created.body.id)).counts.installed === 1 ? true : undefined), 20_000, 'the first computer');

    await stack.startAgent({ role: 'computer', name: 'pc-late', labels });
    expect((await stack.request('PATCH', `/computers/${second!.name}`, { labels })).status).toBe(200);
    // A new branch office: its relay was never one the job staged on; it stages there for its joiner.
    await stack.startAgent({ role: 'relay', name: 'relay-late' });
    await stack.startAgent({ role: 'computer', name: 'pc-branch', relay: 'relay-late', labels });
    const joined = await eventually(async () => {
      const view = await job(created.body.id);
      return view.counts.installed === 4 ? view : undefined;
    }, 30_000, 'the joined computers to install');
    expect([joined.status, joined.joined]).toEqual(['running', 3]);
    const relayCopies = (await stack.request('GET', '/relays')).body.items.find((relay: { name: string }) => relay.name === 'relay-late').copies;
    expect(relayCopies.map((copy: { packageId: string }) => copy.packageId)).toEqual([packageId]);
    const late = joined.targets.find((target: { name: string }) => target.name === 'pc-late');
    expect(late.joinedAt).not.toBeNull();
    expect(await readFile(join(stack.agents.get('pc-late')!.dataDir, 'root', 'rolled-out'), 'utf8')).toBe('ok\n');

    const done = await stack.finishedJob(created.body.id);
    expect([done.status, done.counts, done.joined]).toEqual(['completed', { installed: 4 }, 3]);
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(deadline));
  });
});
