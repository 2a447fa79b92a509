/**
 * Transfer package to relay jobs end to end, with api, worker, relays and computers as real processes:
 * two-stage distribution, retransfer after a changed expiry, relay restarts, a damaged relay copy, an
 * unreachable relay, a rerun of what failed, and a relay's bandwidth limit.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ADMIN_TOKEN, TestStack, targetStates, type RunningAgent } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

let stack: TestStack;
let relayA: RunningAgent;
let pkg: { id: string; size: number; relayExpiresAt: string };

async function runJob(body: Record<string, unknown>) {
  const created = await stack.request('POST', '/jobs', { packageId: pkg.id, ...body });
  expect(created.status).toBe(201);
  return stack.finishedJob(created.body.id);
}

async function served(name: string): Promise<number> {
  const { body } = await stack.request('GET', `/packages/${pkg.id}`);
  return body.servedBytes.find((entry: { name: string }) => entry.name === name)?.bytes ?? 0;
}

async function copyOn(relayName: string, packageId = pkg.id) {
  const { body } = await stack.request('GET', `/packages/${packageId}`);
  return body.relayCopies.find((copy: { relayName: string }) => copy.relayName === relayName);
}

beforeAll(async () => {
  stack = await TestStack.start();
  relayA = await stack.startAgent({ role: 'relay', name: 'relay-a' });
  await stack.startAgent({ role: 'relay', name: 'relay-b' });
  for (const name of ['pc-1', 'pc-2', 'pc-3']) await stack.startAgent({ role: 'computer', name, relay: 'relay-a' });
  const archive = await makeTarGz({
    'payload.txt': 'the true package\n'.repeat(2000),
    'install.sh': 'cp payload.txt "$COURIER_TARGET_DIR/payload.txt"\n',
  });
  const upload = await uploadPackage(stack, { name: 'staged', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
  expect(upload.status).toBe(201);
  pkg = upload.body;
});

afterAll(async () => {
  await stack?.stop();
});

describe('transfer job on the real stack', () => {
  it('two-stage distribution: the install job uses the relay copy and the server sends zero more bytes', async () => {
    const stage1 = await runJob({ type: 'transfer', targets: { relays: ['relay-a'] } });
    expect(stage1.status).toBe('completed');
    expect(targetStates(stage1)).toEqual({ 'relay-a': 'stored' });
    expect(await served('relay-a')).toBe(pkg.size);
    expect((await copyOn('relay-a')).expiresAt).toBe(pkg.relayExpiresAt);

    const stage2 = await runJob({
      type: 'install',
      targets: { computers: ['pc-1', 'pc-2'] },
      scheduledAt: new Date(Date.now() + 2000).toISOString(),
    });
    expect(targetStates(stage2)).toEqual({ 'pc-1': 'installed', 'pc-2': 'installed' });
    expect(await served('relay-a')).toBe(pkg.size);
    expect(await served('pc-1')).toBe(0);
    expect(await served('pc-2')).toBe(0);
  });

  it('a transfer of an unchanged package to a relay holding it sends nothing, also after the relay restarts', async () => {
    await relayA.process.stop();
    relayA = await stack.startAgent({ role: 'relay', name: 'relay-a' });
    const again = await runJob({ type: 'transfer', targets: { relays: ['relay-a'] } });
    expect(targetStates(again)).toEqual({ 'relay-a': 'already_stored' });
    expect(await served('relay-a')).toBe(pkg.size);
  });

  it('a changed expiry reaches the relay only when a transfer retransfers the package', async () => {
    const newExpiry = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    const patched = await stack.request('PATCH', `/packages/${pkg.id}`, { relayExpiresAt: newExpiry });
    expect(patched.status).toBe(200);
    expect((await copyOn('relay-a')).expiresAt).toBe(pkg.relayExpiresAt);
    const relays = await stack.request('GET', '/relays');
    const relayView = relays.body.items.find((relay: { name: string }) => relay.name === 'relay-a');
    expect(relayView.copies.find((copy: { packageId: string }) => copy.packageId === pkg.id).expiresAt).toBe(pkg.relayExpiresAt);

    const retransfer = await runJob({ type: 'transfer', targets: { relays: ['relay-a'] } });
    expect(targetStates(retransfer)).toEqual({ 'relay-a': 'stored' });
    expect(await served('relay-a')).toBe(2 * pkg.size);
    expect((await copyOn('relay-a')).expiresAt).toBe(newExpiry);
    pkg.relayExpiresAt = newExpiry;
  });

  it('a byte flipped in the relay copy is caught before it is served: the relay refetches and pc-3 installs the true package', async () => {
    const copyFile = join(relayA.dataDir, 'packages', `${pkg.id}.content`);
    const bytes = await readFile(copyFile);
    bytes[100] = (bytes[100] as number) ^ 0xff;
    await writeFile(copyFile, bytes);
    const before = await served('relay-a');

    const job = await runJob({ type: 'install', targets: { computers: ['pc-3'] } });
    expect(targetStates(job)).toEqual({ 'pc-3': 'installed' });
    expect(await readFile(join(stack.agents.get('pc-3')!.dataDir, 'root', 'payload.txt'), 'utf8')).toBe('the true package\n'.repeat(2000));
    expect(await served('relay-a')).toBe(before + pkg.size);
  });

  it('a relay that lost its copy fetches it again before its computers download', async () => {
    await relayA.process.stop();
    await rm(join(relayA.dataDir, 'packages'), { recursive: true, force: true });
    relayA = await stack.startAgent({ role: 'relay', name: 'relay-a' });
    await stack.startAgent({ role: 'computer', name: 'pc-4', relay: 'relay-a' });
    const before = await served('relay-a');

    const job = await runJob({ type: 'install', targets: { computers: ['pc-4'] } });
    expect(targetStates(job)).toEqual({ 'pc-4': 'installed' });
    expect(await served('relay-a')).toBe(before + pkg.size);
  });

  it('an unreachable relay fails at the deadline while another is stored; a rerun sends only to the failed relay', async () => {
    const relayB = stack.agents.get('relay-b')!;
    await relayB.process.stop();
    const deadline = new Date(Date.now() + 6000).toISOString();
    const job = await runJob({ type: 'transfer', targets: { relays: ['relay-a', 'relay-b'] }, deadline });
    expect(job.status).toBe('completed_with_errors');
    expect(targetStates(job)).toEqual({ 'relay-a': 'already_stored', 'relay-b': 'failed' });
    const failed = job.targets.find((target: { name: string }) => target.name === 'relay-b');
    expect(failed.detail).toMatch(/unreachable: .*ECONNREFUSED/);
    expect(Date.parse(failed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(deadline));

    await stack.startAgent({ role: 'relay', name: 'relay-b' });
    const aBefore = await served('relay-a');
    const rerun = await stack.request('POST', `/jobs/${job.id}/rerun`);
    expect(rerun.status).toBe(201);
    expect(rerun.body.rerunOf).toBe(job.id);
    const rerunDone = await stack.finishedJob(rerun.body.id);
    expect(targetStates(rerunDone)).toEqual({ 'relay-b': 'stored' });
    expect(await served('relay-b')).toBe(pkg.size);
    expect(await served('relay-a')).toBe(aBefore);
  });

  it('a relay limited to N bytes/s takes at least size/N seconds to receive a package', async () => {
    const limit = 50_000;
    const noise = randomBytes(300_000).toString('base64');
    const archive = await makeTarGz({ 'install.sh': 'true\n', 'payload.txt': noise });
    const upload = await uploadPackage(stack, { name: 'limited', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const size = upload.body.size as number;
    expect(size).toBeGreaterThan(250_000);
    const limited = await stack.request('PATCH', '/relays/relay-b', { bandwidthLimit: limit });
    expect([limited.status, limited.body.bandwidthLimit]).toEqual([200, limit]);
    expect((await stack.request('PATCH', '/relays/relay-b', { bandwidthLimit: 10 })).status).toBe(400);

    const started = Date.now();
    const created = await stack.request('POST', '/jobs', { type: 'transfer', packageId: upload.body.id, targets: { relays: ['relay-b'] } });
    expect(targetStates(await stack.finishedJob(created.body.id))).toEqual({ 'relay-b': 'stored' });
    // One chunk (64 KiB) goes before the pacing starts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(((size - 65_536) / limit) * 1000);
    expect((await stack.request('PATCH', '/relays/relay-b', { bandwidthLimit: null })).body.bandwidthLimit).toBeNull();
  });

  it('retiring a package is refused while a job uses it, then every relay deletes its copy and no job may use it', async () => {
    const archive = await makeTarGz({ 'install.sh': 'true\n' });
    const upload = await uploadPackage(stack, { name: 'to-retire', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const id = upload.body.id as string;
    const stored = await stack.request('POST', '/jobs', { type: 'transfer', packageId: id, targets: { relays: ['relay-a'] } });
    expect((await stack.finishedJob(stored.body.id)).counts).toEqual({ stored: 1 });
    const copyFile = join(relayA.dataDir, 'packages', `${id}.content`);
    expect(existsSync(copyFile)).toBe(true);

    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const waiting = await stack.request('POST', '/jobs', { type: 'install', packageId: id, targets: { computers: ['pc-1'] }, scheduledAt });
    const inUse = await stack.request('DELETE', `/packages/${id}`);
    expect([inUse.status, inUse.body.error.code, inUse.body.error.details]).toEqual([409, 'package_in_use', { jobs: [waiting.body.id] }]);
    expect((await stack.request('GET', `/packages/${id}`)).body.retiredAt).toBeNull();

    await stack.request('POST', `/jobs/${waiting.body.id}/cancel`);
    expect((await stack.finishedJob(waiting.body.id)).status).toBe('cancelled');
    const retired = await stack.request('DELETE', `/packages/${id}`);
    expect(retired.status).toBe(200);
    expect(retired.body.retiredAt).toEqual(expect.any(String));
    expect(retired.body.relayCopiesDeleting).toBe(1);
    await eventually(async () => (existsSync(copyFile) ? undefined : true), 20_000, 'the relay to delete its copy');
    await eventually(async () => ((await copyOn('relay-a', id))?.state === 'deleted' ? true : undefined), 20_000, 'the copy to be recorded deleted');

    // Retired: no new job, no download, not listed; retiring again changes nothing.
    const refused = await stack.request('POST', '/jobs', { type: 'install', packageId: id, targets: { computers: ['pc-1'] } });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'package_retired']);
    const download = await stack.fetch(`${stack.apiUrl}/api/v1/packages/${id}/content`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(download.status).toBe(404);
    expect(((await stack.request('GET', '/packages')).body.items as { id: string }[]).map((listed) => listed.id)).not.toContain(id);
    const again = await stack.request('DELETE', `/packages/${id}`);
    expect([again.status, again.body.retiredAt]).toEqual([200, retired.body.retiredAt]);
    expect((await stack.request('DELETE', '/packages/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
