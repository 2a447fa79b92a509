/**
 * How the managing server hears of installs: computers report progress and outcome to the api with their
 * own token, and the job takes each report once. Real api, worker, Temporal dev server, PostgreSQL and
 * agent processes; between one agent and the api stands a loopback proxy that can lose its reports in
 * transit, as a network can. Computers report every second here, so one is silent after three.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../agent/paths.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ApiProxy } from '../support/api-proxy.js';
import { TestStack, targetStates } from '../support/stack.js';

let stack: TestStack;
let proxy: ApiProxy;

/** A package whose install takes `seconds` and leaves one line per run in the computer's RUNS file. */
async function countedPackage(name: string, seconds: number): Promise<{ id: string }> {
  const archive = await makeTarGz({ 'install.sh': `sleep ${seconds}\necho run >> "$COURIER_TARGET_DIR/RUNS-${name}"\n` });
  const upload = await uploadPackage(stack, { name, version: '1.0.0', installCommand: 'sh install.sh' }, archive);
  expect(upload.status).toBe(201);
  return upload.body;
}

async function runsOn(computer: string, packageName: string): Promise<number> {
  const file = join(stack.agents.get(computer)!.dataDir, 'root', `RUNS-${packageName}`);
  return (await readFile(file, 'utf8')).trim().split('\n').length;
}

/** A report sent as the computer itself would, with its own token. */
async function report(computer: string, jobId: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const identity = JSON.parse(await readFile(new AgentPaths(stack.agents.get(computer)!.dataDir).identity, 'utf8')) as { token: string };
  const response = await fetch(`${stack.apiUrl}/api/v1/jobs/${jobId}/reports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${identity.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function installJob(packageId: string, computers: string[]): Promise<string> {
  const created = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { computers } });
  expect(created.status).toBe(201);
  return created.body.id;
}

beforeAll(async () => {
  stack = await TestStack.start();
  proxy = await ApiProxy.start(stack.apiUrl);
  await stack.startAgent({ role: 'computer', name: 'pc-reporting', serverUrl: proxy.url });
  await stack.startAgent({ role: 'computer', name: 'pc-other' });
});

afterAll(async () => {
  await proxy?.stop();
  await stack?.stop();
});

describe("a computer's reports on its install order", () => {
  it('complete its target: the report of the outcome is what the job records', async () => {
    const pkg = await countedPackage('reported', 1);
    const jobId = await installJob(pkg.id, ['pc-reporting', 'pc-other']);
    const done = await stack.finishedJob(jobId);
    expect(targetStates(done)).toEqual({ 'pc-reporting': 'installed', 'pc-other': 'installed' });
    expect(proxy.statesOf(jobId, 'delivered')).toContain('installing');
    const outcome = proxy.reports.find((seen) => seen.jobId === jobId && seen.state === 'installed');
    // The api took this very report as the outcome: the target had not ended before it came.
    expect(outcome?.answer).toEqual({ status: 202, body: expect.objectContaining({ state: 'installed', recorded: true }) });
    expect(await runsOn('pc-reporting', 'reported')).toBe(1);
  });

  it('a duplicate or late report changes nothing', async () => {
    const pkg = await countedPackage('late', 0);
    const jobId = await installJob(pkg.id, ['pc-other']);
    expect(targetStates(await stack.finishedJob(jobId))).toEqual({ 'pc-other': 'installed' });
    const updatedAt = new Date().toISOString();
    for (const late of [
      { state: 'installed', exitCode: 0 },
      { state: 'failed', detail: 'a late failure' },
      { state: 'downloading', bytes: 1 },
      { state: 'installing' },
    ]) {
      const answer = await report('pc-other', jobId, { kind: 'install', packageId: pkg.id, updatedAt, ...late });
      expect(answer).toEqual({ status: 202, body: expect.objectContaining({ state: 'installed', recorded: false }) });
    }
    const job = await stack.request('GET', `/jobs/${jobId}`);
    expect(job.body.counts).toEqual({ installed: 1 });
    expect(job.body.targets[0].detail ?? '').not.toContain('late failure');
    const computer = await stack.request('GET', '/computers/pc-other');
    expect(computer.body.installed.filter((entry: { name: string }) => entry.name === 'late')).toHaveLength(1);
  });

  it('a report about an order the job never sent this computer, or a malformed one, is refused', async () => {
    const pkg = await countedPackage('refused', 0);
    const jobId = await installJob(pkg.id, ['pc-other']);
    await stack.finishedJob(jobId);
    const updatedAt = new Date().toISOString();
    const notOurs = await report('pc-reporting', jobId, { kind: 'install', packageId: pkg.id, state: 'installed', updatedAt });
    expect(notOurs).toEqual({ status: 404, body: { error: expect.objectContaining({ code: 'order_not_found' }) } });
    const malformed = await report('pc-other', jobId, { kind: 'install', packageId: pkg.id, state: 'done', updatedAt });
    expect(malformed.status).toBe(400);
    const admin = await stack.request('POST', `/jobs/${jobId}/reports`, { kind: 'install', packageId: pkg.id, state: 'failed', updatedAt });
    expect(admin.status).toBe(403);
  });

  it('a lost report is recovered by asking the silent computer, without a second install', async () => {
    const pkg = await countedPackage('lost', 1);
    proxy.lose = true;
    try {
      const jobId = await installJob(pkg.id, ['pc-reporting']);
      const done = await stack.finishedJob(jobId);
      expect(targetStates(done)).toEqual({ 'pc-reporting': 'installed' });
      // Every report was lost, the outcome among them: the job heard it by asking the computer.
      expect(proxy.statesOf(jobId, 'lost')).toContain('installed');
      expect(proxy.statesOf(jobId, 'delivered')).toEqual([]);
      expect(await runsOn('pc-reporting', 'lost')).toBe(1);
      const computer = await stack.request('GET', '/computers/pc-reporting');
      expect(computer.body.installed.filter((entry: { name: string }) => entry.name === 'lost')).toHaveLength(1);
    } finally {
      proxy.lose = false;
    }
  });
});
