/**
 * The install package job end to end: api, worker, Temporal dev server, PostgreSQL and agents as real
 * processes on loopback, driven over the REST API exactly as an admin would.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack, targetStates } from '../support/stack.js';
import { COURIER_VERSION } from '../../common/version.js';
import { connectClient, eventually } from '../support/temporal.js';

let stack: TestStack;
let helloPackage: { id: string; size: number };

const helloArchive = () =>
  makeTarGz({
    'hello.txt': 'hello from courier\n',
    'install.sh': 'set -e\ncp hello.txt "$COURIER_TARGET_DIR/hello.txt"\necho installed hello\n',
  });

async function job(id: string) {
  const { status, body } = await stack.request('GET', `/jobs/${id}`);
  expect(status).toBe(200);
  return body;
}

/** What the Temporal UI shows as a workflow's current details. */
async function currentDetails(workflowId: string): Promise<string> {
  const { client, connection } = await connectClient();
  try {
    return (await client.workflow.getHandle(workflowId).query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
  } finally {
    await connection.close();
  }
}

async function bytesServedTo(packageId: string, consumerName: string): Promise<number> {
  const { body } = await stack.request('GET', `/packages/${packageId}`);
  return body.servedBytes.find((entry: { name: string }) => entry.name === consumerName)?.bytes ?? 0;
}

beforeAll(async () => {
  // Agents check in every second here, so that one switched off reads offline within a test.
  stack = await TestStack.start({ env: { COURIER_CHECK_IN_EVERY_MS: '1000' } });
  await stack.startAgent({ role: 'relay', name: 'relay-1' });
  for (const name of ['pc-1', 'pc-2', 'pc-3']) await stack.startAgent({ role: 'computer', name, relay: 'relay-1' });
  const upload = await uploadPackage(stack, { name: 'hello', version: '1.0.0', installCommand: 'sh install.sh' }, await helloArchive());
  expect(upload.status).toBe(201);
  helloPackage = upload.body;
});

afterAll(async () => {
  await stack?.stop();
});

describe('install job on the real stack', () => {
  it('waits for its execution time, then every computer installs the package from the relay', async () => {
    const scheduledAt = new Date(Date.now() + 4000).toISOString();
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId: helloPackage.id,
      targets: { relays: ['relay-1'] },
      scheduledAt,
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('scheduled');
    expect((await job(created.body.id)).status).toBe('scheduled');
    // …and what the job is, and that it waits.
    const { client, connection } = await connectClient();
    try {
      const details = await (await client.workflow.getHandle(created.body.workflowId).describe()).staticDetails();
      expect(details).toContain(`**Package** hello 1.0.0, tar.gz, ${helloPackage.size} bytes, id ${helloPackage.id}`);
      expect(details).toContain('**Targets** 3 computers');
    } finally {
      await connection.close();
    }
    expect(await currentDetails(created.body.workflowId)).toBe(`**Waiting** for the execution time, ${scheduledAt}.`);

    const done = await stack.finishedJob(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.progress).toBe(100);
    expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(Date.parse(scheduledAt));
    expect(targetStates(done)).toEqual({ 'pc-1': 'installed', 'pc-2': 'installed', 'pc-3': 'installed' });
    for (const name of ['pc-1', 'pc-2', 'pc-3']) {
      const file = join(stack.agents.get(name)!.dataDir, 'root', 'hello.txt');
      expect(await readFile(file, 'utf8')).toBe('hello from courier\n');
    }
    // The relay fetched the package from the managing server exactly once; computers read the relay's copy.
    expect(await bytesServedTo(helloPackage.id, 'relay-1')).toBe(helloPackage.size);
    for (const name of ['pc-1', 'pc-2', 'pc-3']) expect(await bytesServedTo(helloPackage.id, name)).toBe(0);

    const computer = await stack.request('GET', '/computers/pc-1');
    expect(computer.body.installed.map((entry: { name: string }) => entry.name)).toEqual(['hello']);

    // An operator in the Temporal UI reads how the job ended, without the database.
    expect(await currentDetails(done.workflowId)).toBe('**Ended completed**: installed 3.');
  });

  it('a second install job through the same relay sends the package to it zero more times', async () => {
    await stack.startAgent({ role: 'computer', name: 'pc-4', relay: 'relay-1' });
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId: helloPackage.id,
      targets: { computers: ['pc-4'] },
    });
    const done = await stack.finishedJob(created.body.id);
    expect(targetStates(done)).toEqual({ 'pc-4': 'installed' });
    expect(existsSync(join(stack.agents.get('pc-4')!.dataDir, 'root', 'hello.txt'))).toBe(true);
    expect(await bytesServedTo(helloPackage.id, 'relay-1')).toBe(helloPackage.size);
  });

  it('a failing install command leaves that computer failed with its exit code while the others install', async () => {
    // pc-2 carries a marker that makes this package's install command exit 3 there and nowhere else.
    await mkdir(join(stack.agents.get('pc-2')!.dataDir, 'root'), { recursive: true });
    await writeFile(join(stack.agents.get('pc-2')!.dataDir, 'root', 'broken'), '');
    const archive = await makeTarGz({
      'install.sh': 'if [ -e "$COURIER_TARGET_DIR/broken" ]; then echo "disk is broken" >&2; exit 3; fi\ntouch "$COURIER_TARGET_DIR/tool-installed"\n',
    });
    const upload = await uploadPackage(stack, { name: 'tool', version: '2.0.0', installCommand: 'sh install.sh' }, archive);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId: upload.body.id,
      targets: { computers: ['pc-1', 'pc-2', 'pc-3'] },
    });
    const done = await stack.finishedJob(created.body.id);
    expect(done.status).toBe('completed_with_errors');
    expect(targetStates(done)).toEqual({ 'pc-1': 'installed', 'pc-2': 'failed', 'pc-3': 'installed' });
    const failed = done.targets.find((target: { name: string }) => target.name === 'pc-2');
    expect(failed.detail).toContain('exited with code 3');
    expect(failed.detail).toContain('disk is broken');
    expect(done.counts).toEqual({ installed: 2, failed: 1 });
    expect(existsSync(join(stack.agents.get('pc-1')!.dataDir, 'root', 'tool-installed'))).toBe(true);
    expect(existsSync(join(stack.agents.get('pc-2')!.dataDir, 'root', 'tool-installed'))).toBe(false);
  });

  it('a computer whose agent is down ends unreachable at the deadline, with the reason', async () => {
    const direct = await stack.startAgent({ role: 'computer', name: 'pc-offline' });
    await direct.process.stop();
    const archive = await makeTarGz({ 'install.sh': 'touch "$COURIER_TARGET_DIR/agent-tools"\n' });
    const upload = await uploadPackage(stack, { name: 'agent-tools', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const deadline = new Date(Date.now() + 8000).toISOString();
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId: upload.body.id,
      targets: { computers: ['pc-offline', 'pc-1'] },
      deadline,
    });
    const done = await stack.finishedJob(created.body.id);
    expect(targetStates(done)).toEqual({ 'pc-offline': 'unreachable', 'pc-1': 'installed' });
    const offline = done.targets.find((target: { name: string }) => target.name === 'pc-offline');
    expect(offline.detail).toMatch(/unreachable: .*ECONNREFUSED/);
    expect(offline.detail).toContain("job's deadline");
    expect(offline.attempts).toBeGreaterThan(1);
    expect(Date.parse(offline.updatedAt)).toBeGreaterThanOrEqual(Date.parse(deadline));
    expect(done.status).toBe('completed_with_errors');
  });

  it('reinstall: true runs the command again where another job installed the package, once', async () => {
    const archive = await makeTarGz({ 'install.sh': 'echo run >> "$COURIER_TARGET_DIR/repair-runs"\n' });
    const upload = await uploadPackage(stack, { name: 'repairable', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const runs = async () => (await readFile(join(stack.agents.get('pc-3')!.dataDir, 'root', 'repair-runs'), 'utf8')).split('\n').filter(Boolean).length;
    const install = async (reinstall?: boolean) => {
      const created = await stack.request('POST', '/jobs', {
        type: 'install',
        packageId: upload.body.id,
        targets: { computers: ['pc-3'] },
        ...(reinstall !== undefined && { reinstall }),
      });
      expect(created.status).toBe(201);
      expect(created.body.reinstall).toBe(reinstall ?? false);
      return stack.finishedJob(created.body.id);
    };
    const first = await install();
    expect([first.counts, await runs()]).toEqual([{ installed: 1 }, 1]);
    // By default a computer that has the package says so and runs nothing.
    const again = await install();
    expect(again.counts).toEqual({ installed: 1 });
    expect(again.targets[0].detail).toBe(`already installed by job ${first.id}`);
    expect(await runs()).toBe(1);
    // Asked to reinstall, it runs the command once more, and records the new job as the one that installed it.
    const repaired = await install(true);
    expect(repaired.counts).toEqual({ installed: 1 });
    expect(repaired.targets[0].detail ?? '').not.toContain('already installed');
    expect(await runs()).toBe(2);
    const computer = await stack.request('GET', '/computers/pc-3');
    expect(computer.body.installed.find((entry: { name: string }) => entry.name === 'repairable').jobId).toBe(repaired.id);

    const offer = await stack.request('POST', '/jobs', { type: 'offer', packageId: upload.body.id, targets: { computers: ['pc-3'] }, reinstall: true });
    expect([offer.status, offer.body.error.details.map((issue: { path: string }) => issue.path)]).toEqual([400, ['reinstall']]);
  });

  it('agents check in: each shows when it was last seen, whether it is online, its version and OS, at its current URL', async () => {
    const pc1 = (await stack.request('GET', '/computers/pc-1')).body;
    expect(pc1).toMatchObject({ online: true, agentVersion: COURIER_VERSION, os: expect.stringMatching(/^Linux /) });
    expect(Date.now() - Date.parse(pc1.lastSeenAt)).toBeLessThan(10_000);
    const relay = ((await stack.request('GET', '/relays')).body.items as { name: string; online: boolean }[]).find((listed) => listed.name === 'relay-1');
    expect(relay?.online).toBe(true);
    // pc-offline's agent was stopped in an earlier test, more than three check-in intervals ago.
    expect((await stack.request('GET', '/computers/pc-offline')).body.online).toBe(false);
    const names = async (online: boolean) => ((await stack.request('GET', `/computers?online=${online}`)).body.items as { name: string }[]).map((c) => c.name);
    expect(await names(false)).toContain('pc-offline');
    expect(await names(false)).not.toContain('pc-1');
    expect(await names(true)).toContain('pc-1');
    expect((await stack.request('GET', '/computers?online=maybe')).status).toBe(400);

    // A laptop that moved says so at its next check-in; here a check-in names another address, then the
    // agent's own next one puts back the address it really has.
    const { token } = JSON.parse(await readFile(join(stack.agents.get('pc-1')!.dataDir, 'identity.json'), 'utf8')) as { token: string };
    const moved = await fetch(`${stack.apiUrl}/api/v1/check-in`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/moved', agentVersion: COURIER_VERSION, os: 'Linux test' }),
    });
    expect([moved.status, ((await moved.json()) as { checkInEveryMs: number }).checkInEveryMs]).toEqual([200, 1000]);
    expect((await stack.request('GET', '/computers/pc-1')).body.url).toBe('http://127.0.0.1:9/moved');
    await eventually(async () => ((await stack.request('GET', '/computers/pc-1')).body.url === pc1.url ? true : undefined), 10_000, "pc-1's own check-in");
    const byAdmin = await stack.request('POST', '/check-in', { url: 'http://127.0.0.1:9/', agentVersion: '1', os: 'x' });
    expect([byAdmin.status, byAdmin.body.error.code]).toEqual([403, 'agent_only']);
  });

  it("keeps each computer's history, and filters jobs and computers as an admin asks", async () => {
    // By now pc-2 had two jobs of hello, then one of tool whose command failed on it; pc-offline, one job.
    const history = await stack.request('GET', '/computers/pc-2/jobs');
    expect(history.status).toBe(200);
    const states = history.body.items.map((job: { target: { state: string } }) => job.target.state);
    expect(states[0]).toBe('failed');
    expect(states.slice(1).every((state: string) => state === 'installed')).toBe(true);
    const offline = await stack.request('GET', '/computers/pc-offline/jobs');
    expect(offline.body.items.map((job: { status: string; target: { state: string } }) => [job.status, job.target.state])).toEqual([
      ['completed_with_errors', 'unreachable'],
    ]);
    const first = await stack.request('GET', '/computers/pc-2/jobs?limit=1');
    const second = await stack.request('GET', `/computers/pc-2/jobs?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect([first.body.items[0].id, second.body.items[0].id]).toEqual(history.body.items.slice(0, 2).map((job: { id: string }) => job.id));

    // GET /jobs?computer= lists the same jobs as the history; the other filters narrow them.
    const ofPc2 = await stack.request('GET', '/jobs?computer=pc-2');
    expect(ofPc2.body.items.map((job: { id: string }) => job.id)).toEqual(history.body.items.map((job: { id: string }) => job.id));
    const withErrors = await stack.request('GET', '/jobs?status=completed_with_errors&type=install');
    expect(withErrors.body.items.length).toBe(2);
    expect(withErrors.body.items.every((job: { status: string }) => job.status === 'completed_with_errors')).toBe(true);
    const ofHello = await stack.request('GET', `/jobs?packageId=${helloPackage.id}&computer=pc-offline`);
    expect(ofHello.body.items).toEqual([]);
    expect((await stack.request('GET', '/jobs?computer=no-such-pc')).body.error.code).toBe('computer_not_found');
    expect((await stack.request('GET', '/jobs?status=sleeping')).status).toBe(400);

    const names = async (query: string) =>
      ((await stack.request('GET', `/computers?${query}`)).body.items as { name: string }[]).map((computer) => computer.name);
    const all = (await stack.request('GET', '/computers')).body.items as { name: string; relay: { name: string } | null }[];
    const behindRelay = all.filter((computer) => computer.relay?.name === 'relay-1').map((computer) => computer.name);
    expect(behindRelay).toEqual(expect.arrayContaining(['pc-1', 'pc-2', 'pc-3']));
    expect(behindRelay.length).toBeLessThan(all.length);
    expect(await names('relay=relay-1')).toEqual(behindRelay);
    expect(await names('prefix=pc-o')).toEqual(['pc-offline']);
    // A prefix is literal: LIKE's wildcards in it match only themselves.
    expect(await names('prefix=pc_')).toEqual([]);
    expect(await names(`prefix=${encodeURIComponent('%')}`)).toEqual([]);
    expect((await stack.request('GET', '/computers?relay=no-such-relay')).body.error.code).toBe('relay_not_found');
  });
});
