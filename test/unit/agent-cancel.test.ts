/**
 * Cancel orders on a real computer agent: a cancel stops the job's install before its command starts,
 * lets a started command run to its end, is remembered when it overtakes the install order (also across a
 * restart), and is answered with the status of the install it acted on.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';
import { eventually } from '../support/temporal.js';

const CANCELLED_DETAIL = 'cancelled by the managing server before the install started';

let base: string;
let server: FakeManagingServer;
let computer: RunningAgent;

function startComputer(): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'computer', name: 'pc-cancel', dataDir: join(base, 'pc-cancel') });
}

function installOrder(pkg: TestPackage, jobId: string): Buffer {
  const source = { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server' as const, ticket: '' };
  return server.seal({ kind: 'install', jobId, agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, source });
}

function cancelOrder(pkg: TestPackage, jobId: string): Buffer {
  return server.seal({ kind: 'cancel', jobId, agentId: server.idOf(computer.name), ...issuedNow(), packageId: pkg.packageId });
}

/** A package whose install command notes each run in `runs-<name>.log`. */
function countingPackage(name: string): Promise<TestPackage> {
  return server.makePackage({ installCommand: `echo run >> "$COURIER_TARGET_DIR/runs-${name}.log"` });
}

function ran(name: string): boolean {
  return existsSync(join(computer.dataDir, 'root', `runs-${name}.log`));
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-cancel-'));
  computer = await startComputer();
});

afterEach(() => {
  server.contentGate = undefined;
});

afterAll(async () => {
  await computer?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('cancel orders', () => {
  it('stops an install whose download is under way; its command never runs, also after a restart', async () => {
    const pkg = await countingPackage('downloading');
    let release!: () => void;
    server.contentGate = new Promise((resolve) => (release = resolve));
    const install = installOrder(pkg, 'job-downloading');
    expect((await server.send(computer.url, install)).body).toMatchObject({ state: 'downloading' });
    await eventually(async () => (server.requestsFor(pkg.packageId).length > 0 ? true : undefined), 10_000, 'the download to start');

    const cancelled = { jobId: 'job-downloading', kind: 'install', state: 'cancelled', detail: CANCELLED_DETAIL };
    expect(await server.send(computer.url, cancelOrder(pkg, 'job-downloading'))).toMatchObject({ status: 200, body: cancelled });
    expect((await server.send(computer.url, cancelOrder(pkg, 'job-downloading'))).body).toMatchObject(cancelled);
    expect((await server.send(computer.url, install)).body).toMatchObject(cancelled);
    await eventually(async () => (server.abandoned.includes(pkg.packageId) ? true : undefined), 10_000, 'the download to be given up');

    // The content comes now, to nobody; stop() waits for the install's work to settle.
    release();
    await computer.agent.stop();
    expect(existsSync(join(computer.dataDir, 'downloads', `job-downloading.${pkg.packageId}.partial`))).toBe(false);
    computer = await startComputer();
    expect((await server.send(computer.url, install)).body).toMatchObject(cancelled);
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
    expect(ran('downloading')).toBe(false);
  });

  it('remembers a cancel that overtook the install order: the install, arriving after a restart, does nothing', async () => {
    const pkg = await countingPackage('overtaken');
    const early = await server.send(computer.url, cancelOrder(pkg, 'job-overtaken'));
    expect(early).toMatchObject({ status: 200, body: { jobId: 'job-overtaken', kind: 'cancel', state: 'cancelled' } });

    await computer.agent.stop();
    computer = await startComputer();
    const late = await server.send(computer.url, installOrder(pkg, 'job-overtaken'));
    expect(late.body).toMatchObject({ kind: 'install', state: 'cancelled', detail: 'the managing server cancelled this job before this order arrived' });
    expect((await server.send(computer.url, cancelOrder(pkg, 'job-overtaken'))).body).toMatchObject({ kind: 'install', state: 'cancelled' });
    expect(server.requestsFor(pkg.packageId)).toHaveLength(0);
    expect(ran('overtaken')).toBe(false);
  });

  it('lets an install command that has started run to its end, and says so', async () => {
    const go = join(base, 'pc-cancel', 'root', 'go-running');
    const pkg = await server.makePackage({
      installCommand: `echo started >> "$COURIER_TARGET_DIR/running.log"; while [ ! -f "${go}" ]; do sleep 0.05; done; echo done >> "$COURIER_TARGET_DIR/running.log"`,
    });
    const install = installOrder(pkg, 'job-running');
    await server.follow(computer.url, install, (status) => status.state === 'installing');

    const tooLate = await server.send(computer.url, cancelOrder(pkg, 'job-running'));
    expect(tooLate.body).toMatchObject({ kind: 'install', state: 'installing', detail: expect.stringMatching(/runs to its end/) });
    await writeFile(go, '');
    expect(await server.follow(computer.url, install)).toMatchObject({ state: 'installed', exitCode: 0 });
    expect(await readFile(join(computer.dataDir, 'root', 'running.log'), 'utf8')).toBe('started\ndone\n');
    expect((await server.send(computer.url, cancelOrder(pkg, 'job-running'))).body).toMatchObject({ kind: 'install', state: 'installed' });
  });

  it('changes nothing for an install that has ended', async () => {
    const pkg = await countingPackage('ended');
    await server.follow(computer.url, installOrder(pkg, 'job-ended'));
    expect((await server.send(computer.url, cancelOrder(pkg, 'job-ended'))).body).toMatchObject({ kind: 'install', state: 'installed', exitCode: 0 });
    expect(await readFile(join(computer.dataDir, 'root', 'runs-ended.log'), 'utf8')).toBe('run\n');
  });
});
