/**
 * A real computer agent on loopback installing what the fake managing server orders, from its relay or from
 * the server: verified, extracted safely, conditions checked, the command run with its timeout, each order
 * carried out once, also across restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DownloadSource, Order } from '../../common/orders.js';
import { signTicket } from '../../trust/orders.js';
import { loadOrCreateServerKey } from '../../trust/signing.js';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';

let base: string;
let server: FakeManagingServer;
let relay: RunningAgent;
let computer: RunningAgent;

function startComputer(): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'computer', name: 'pc-1', dataDir: join(base, 'pc-1'), relayName: relay.name });
}

function viaRelay(pkg: TestPackage): DownloadSource {
  const ticket = signTicket(server.key, { packageId: pkg.packageId, computerId: server.idOf(computer.name), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  return { url: `${relay.url}/packages/${pkg.packageId}/content`, via: 'relay', ticket };
}

function viaServer(pkg: TestPackage): DownloadSource {
  return { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server', ticket: '' };
}

function installOrder(pkg: TestPackage, jobId: string, source: DownloadSource): Buffer {
  return server.seal({ kind: 'install', jobId, agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, source });
}

function install(pkg: TestPackage, jobId: string) {
  return server.follow(computer.url, installOrder(pkg, jobId, viaServer(pkg)));
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-computer-'));
  relay = await startTestAgent(server, { role: 'relay', name: 'relay-1', dataDir: join(base, 'relay-1') });
  computer = await startComputer();
});

afterAll(async () => {
  await computer?.agent.stop();
  await relay?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('computer', () => {
  it('installs a .tar.gz from its relay; the install command writes into COURIER_TARGET_DIR', async () => {
    const pkg = await server.makePackage({
      installCommand: 'cp hello.txt "$COURIER_TARGET_DIR/hello-$COURIER_PACKAGE_NAME.txt" && echo "installed $COURIER_PACKAGE_VERSION by $COURIER_JOB_ID"',
    });
    const store: Order = {
      kind: 'store',
      jobId: 'job-stage',
      agentId: server.idOf(relay.name),
      ...issuedNow(),
      package: pkg.signed,
      sourceUrl: `${server.url}/api/v1/packages/${pkg.packageId}/content`,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
    expect(await server.follow(relay.url, server.seal(store))).toMatchObject({ state: 'stored' });
    const status = await server.follow(computer.url, installOrder(pkg, 'job-install', viaRelay(pkg)));
    expect(status).toMatchObject({ state: 'installed', exitCode: 0, outputTail: 'installed 1.0.0 by job-install\n' });
    const installedFile = join(computer.dataDir, 'root', `hello-${pkg.signed.manifest.name}.txt`);
    expect(await readFile(installedFile, 'utf8')).toBe(`hello from ${pkg.packageId}\n`);
    const installed = JSON.parse(await readFile(join(computer.dataDir, 'installed.json'), 'utf8')) as Record<string, { jobId: string }>;
    expect(installed[pkg.packageId]).toMatchObject({ name: pkg.signed.manifest.name, version: '1.0.0', jobId: 'job-install' });
    // Only the relay fetched from the server: the computer took the relay's copy.
    expect(server.requestsFor(pkg.packageId)).toHaveLength(1);
  });

  it('answers a repeated order with the recorded result and never runs the command twice, also after a restart', async () => {
    const pkg = await server.makePackage({ installCommand: 'echo run >> "$COURIER_TARGET_DIR/runs.log"' });
    const order = installOrder(pkg, 'job-once', viaServer(pkg));
    const first = await server.follow(computer.url, order);
    expect(first.state).toBe('installed');
    expect((await server.send(computer.url, order)).body).toEqual(first);

    const otherJob = await server.send(computer.url, installOrder(pkg, 'job-twice', viaServer(pkg)));
    expect(otherJob.body).toMatchObject({ state: 'installed', detail: 'already installed by job job-once' });

    await computer.agent.stop();
    computer = await startComputer();
    expect((await server.send(computer.url, installOrder(pkg, 'job-once', viaServer(pkg)))).body).toEqual(first);
    expect(await readFile(join(computer.dataDir, 'root', 'runs.log'), 'utf8')).toBe('run\n');
  });

  it('resumes an unfinished download with Range after a restart', async () => {
    const pkg = await server.makePackage({
      installCommand: 'cp big.bin "$COURIER_TARGET_DIR/resumed.bin"',
      files: { 'big.bin': randomBytes(128 * 1024).toString('hex') },
    });
    server.stalled.add(pkg.packageId);
    await server.follow(computer.url, installOrder(pkg, 'job-resumed', viaServer(pkg)), (status) => status.state === 'downloading' && (status.bytes ?? 0) > 0);
    await computer.agent.stop();
    server.stalled.delete(pkg.packageId);
    computer = await startComputer();
    expect((await install(pkg, 'job-resumed')).state).toBe('installed');
    const [first, second] = server.requestsFor(pkg.packageId);
    expect(first?.range).toBeUndefined();
    expect(second?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('downloads before the maintenance window opens and runs the command only then, also across a restart', async () => {
    const pkg = await server.makePackage({ installCommand: 'date +%s%3N > "$COURIER_TARGET_DIR/window-opened-at"' });
    const installNotBefore = new Date(Date.now() + 4000).toISOString();
    const order = server.seal({
      kind: 'install',
      jobId: 'job-window',
      agentId: server.idOf(computer.name),
      ...issuedNow(),
      package: pkg.signed,
      source: viaServer(pkg),
      installNotBefore,
    });
    const waiting = await server.follow(computer.url, order, (status) => status.state === 'waiting_for_window');
    expect(waiting).toMatchObject({ detail: `downloaded and verified; installs when the maintenance window opens at ${installNotBefore}`, bytes: pkg.signed.manifest.size });
    expect(existsSync(join(computer.dataDir, 'root', 'window-opened-at'))).toBe(false);
    await computer.agent.stop();
    computer = await startComputer();
    expect(await server.follow(computer.url, order)).toMatchObject({ state: 'installed', exitCode: 0 });
    const ranAt = Number(await readFile(join(computer.dataDir, 'root', 'window-opened-at'), 'utf8'));
    expect(ranAt).toBeGreaterThanOrEqual(Date.parse(installNotBefore));
  });

  it('keeps its identity readable by its own user only', async () => {
    const identityPath = join(computer.dataDir, 'identity.json');
    expect((await stat(identityPath)).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(await readFile(identityPath, 'utf8')) as { id: string; token: string };
    expect(identity.id).toBe(server.idOf('pc-1'));
    expect(identity.token).toBe(server.tokenOf('pc-1'));
  });

  it('reports a failing install command with its exit code and output', async () => {
    const pkg = await server.makePackage({ installCommand: 'echo "disk on fire" >&2; exit 3' });
    const status = await install(pkg, 'job-exit-3');
    expect(status).toMatchObject({ state: 'failed', detail: 'install command exited with code 3', exitCode: 3, outputTail: 'disk on fire\n' });
  });

  it('kills an install command that outlives its timeout', async () => {
    const pkg = await server.makePackage({ installCommand: 'sleep 30', timeoutSeconds: 1 });
    expect(await install(pkg, 'job-slow')).toMatchObject({ state: 'failed', detail: 'install command timed out after 1s' });
  });

  it('rejects content that does not match the signed manifest, extracting and running nothing', async () => {
    const pkg = await server.makePackage({ installCommand: 'touch "$COURIER_TARGET_DIR/tampered-ran"' });
    await writeFile(pkg.path, Buffer.alloc(pkg.bytes.length, 9));
    const status = await install(pkg, 'job-tampered');
    expect(status.state).toBe('rejected');
    expect(status.detail).toMatch(/content SHA-256 .* does not match the signed manifest's/);
    expect(existsSync(join(computer.dataDir, 'root', 'tampered-ran'))).toBe(false);
    expect(existsSync(join(computer.dataDir, 'work', 'job-tampered'))).toBe(false);
  });

  it('rejects a manifest the managing server did not sign', async () => {
    const otherKey = await loadOrCreateServerKey(join(base, 'impostor-key.pem'));
    const pkg = await server.makePackage({ installCommand: 'touch "$COURIER_TARGET_DIR/impostor-ran"', key: otherKey });
    const status = await install(pkg, 'job-impostor');
    expect(status).toMatchObject({ state: 'rejected' });
    expect(status.detail).toMatch(/signature does not verify/);
    expect(existsSync(join(computer.dataDir, 'root', 'impostor-ran'))).toBe(false);
  });

  it('does not install when a condition is not met, and says which', async () => {
    const pkg = await server.makePackage({
      installCommand: 'touch "$COURIER_TARGET_DIR/conditions-ran"',
      conditions: { requires: [{ name: 'runtime', version: '>=2.1' }], minFreeDiskMb: 1 },
    });
    const status = await install(pkg, 'job-conditions');
    expect(status).toMatchObject({ state: 'conditions_not_met', detail: 'requires runtime >=2.1, which is not installed' });
    expect(existsSync(join(computer.dataDir, 'root', 'conditions-ran'))).toBe(false);
  });

  it('records an install cut off by the agent stopping as interrupted, and does not rerun it', async () => {
    const pkg = await server.makePackage({ installCommand: 'echo started >> "$COURIER_TARGET_DIR/interrupted.log"; sleep 30' });
    await server.follow(computer.url, installOrder(pkg, 'job-interrupted', viaServer(pkg)), (status) => status.state === 'installing');
    await computer.agent.stop();
    computer = await startComputer();
    const status = await install(pkg, 'job-interrupted');
    expect(status).toMatchObject({ state: 'failed', detail: 'interrupted: the agent stopped while the install command was running' });
    expect(await readFile(join(computer.dataDir, 'root', 'interrupted.log'), 'utf8')).toBe('started\n');
  });

  it('refuses unsigned, mis-addressed and wrong-role orders', async () => {
    const pkg = await server.makePackage({ installCommand: 'true' });
    const order: Order = { kind: 'install', jobId: 'job-unsigned', agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, source: viaServer(pkg) };
    const unsigned = await server.send(computer.url, pack(order));
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.error.code).toBe('unsigned');

    const elsewhere = await server.send(computer.url, server.seal({ ...order, agentId: server.idOf(relay.name) }));
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error.code).toBe('wrong_agent');

    const { packageId } = pkg;
    const deleteOrder: Order = { kind: 'delete', jobId: 'job-role', agentId: server.idOf(computer.name), ...issuedNow(), packageId, expiresAt: new Date().toISOString() };
    const wrongRole = await server.send(computer.url, server.seal(deleteOrder));
    expect(wrongRole.status).toBe(403);
    expect(wrongRole.body.error.code).toBe('wrong_role');
    expect(server.requestsFor(pkg.packageId)).toHaveLength(0);
  });
});
