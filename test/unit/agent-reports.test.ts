/**
 * A real computer agent reports its install orders to the fake managing server: each state as it comes,
 * with its own token; the current status again every reportEveryMs while the order is unfinished; the
 * final status retried through an outage until it gets through; nothing more after a 4xx; orders resumed
 * at a restart reported afresh; and silence once the agent stops. An order with a nonsensical interval is
 * refused. The install command is simulated, so a test decides how long it runs.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OrderState } from '../../common/orders.js';
import type { CommandRunner } from '../../agent/run-command.js';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';
import { eventually } from '../support/temporal.js';

/** Short, so a test sees several repeats; absence of reports is shown by waiting a few of these. */
const REPORT_EVERY_MS = 100;

let base: string;
let server: FakeManagingServer;
/** The agents the current test started; stopped after it. */
let started: RunningAgent[] = [];
/** jobId → a promise the job's simulated install command runs until; jobs not here end at once. */
const held = new Map<string, Promise<void>>();

/** Keeps the install command of `jobId` running until the returned function is called. */
function hold(jobId: string): () => void {
  let release!: () => void;
  held.set(jobId, new Promise((resolve) => (release = resolve)));
  return release;
}

/** The install command, simulated: it waits while its job is held, and is cut off by the agent stopping. */
const simulatedCommand: CommandRunner = async (request) => {
  const jobId = request.env.COURIER_JOB_ID ?? '';
  await new Promise<void>((resolve) => {
    void (held.get(jobId) ?? Promise.resolve()).then(resolve);
    request.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (request.signal.aborted) return { outcome: 'aborted', outputTail: '' };
  return { outcome: 'exited', exitCode: 0, outputTail: `simulated install for ${jobId}\n` };
};

async function startComputer(name: string, log?: (message: string) => void): Promise<RunningAgent> {
  const computer = await startTestAgent(server, {
    role: 'computer',
    name,
    dataDir: join(base, name),
    runCommand: simulatedCommand,
    reportBackoff: { firstMs: 20, maxMs: 200 },
    ...(log && { log }),
  });
  started.push(computer);
  return computer;
}

async function stopComputer(computer: RunningAgent): Promise<void> {
  started = started.filter((running) => running !== computer);
  await computer.agent.stop();
}

function installOrder(computer: RunningAgent, pkg: TestPackage, jobId: string, reportEveryMs?: number): Buffer {
  const source = { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server' as const, ticket: '' };
  const order = { kind: 'install' as const, jobId, agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, source };
  return server.seal(reportEveryMs === undefined ? order : { ...order, reportEveryMs });
}

/** Waits until a report of `jobId` satisfies `done`. */
function reportArrives(jobId: string, done: (state: OrderState, answeredWith: number | undefined) => boolean, what: string) {
  const probe = async () => server.reportsFor(jobId).find((report) => done(report.body.state, report.answeredWith));
  return eventually(probe, 10_000, what);
}

function reportsIn(jobId: string, state: OrderState) {
  return server.reportsFor(jobId).filter((report) => report.body.state === state);
}

/** The states in the order they were reported, each repeat counted once. */
function stateSequence(jobId: string): OrderState[] {
  return server.reportsFor(jobId).map((report) => report.body.state).filter((state, index, all) => state !== all[index - 1]);
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-reports-'));
});

afterEach(async () => {
  await Promise.all(started.map((computer) => computer.agent.stop()));
  started = [];
  server.reportGate = undefined;
});

afterAll(async () => {
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('install reports', () => {
  it("sends each change of an install's state as it comes, with the computer's own token and the outcome's fields", async () => {
    const computer = await startComputer('pc-states');
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    const release = hold('job-states');
    expect((await server.send(computer.url, installOrder(computer, pkg, 'job-states'))).status).toBe(200);
    await reportArrives('job-states', (state) => state === 'installing', 'the installing report');
    release();
    await reportArrives('job-states', (state) => state === 'installed', 'the installed report');

    // The admitted state (downloading) was the order's answer: reports begin with the first change.
    expect(stateSequence('job-states')).toEqual(['installing', 'installed']);
    const reports = server.reportsFor('job-states');
    for (const report of reports) {
      expect(report).toMatchObject({ authorization: `Bearer ${server.tokenOf('pc-states')}`, contentType: 'application/json', answeredWith: 202 });
      expect(report.body).toMatchObject({ kind: 'install', packageId: pkg.packageId, updatedAt: expect.any(String) });
    }
    expect(reports.at(-1)?.body).toMatchObject({ state: 'installed', exitCode: 0, outputTail: 'simulated install for job-states\n' });
  });

  it('repeats the current status every reportEveryMs while the command runs, and stops once the outcome is delivered', async () => {
    const computer = await startComputer('pc-repeats');
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    const release = hold('job-repeats');
    await server.send(computer.url, installOrder(computer, pkg, 'job-repeats', REPORT_EVERY_MS));
    await eventually(async () => (reportsIn('job-repeats', 'installing').length >= 4 ? true : undefined), 10_000, 'four installing reports');
    release();
    await reportArrives('job-repeats', (state) => state === 'installed', 'the installed report');

    const installing = reportsIn('job-repeats', 'installing');
    // Repeats of one status, not new states: the same updatedAt every time.
    expect(new Set(installing.map((report) => report.body.updatedAt)).size).toBe(1);
    const gaps = installing.slice(1).map((report, index) => report.at - installing[index]!.at);
    // Paced by the interval (arrival times jitter a little), not sent in a burst.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(REPORT_EVERY_MS / 2);

    const count = server.reportsFor('job-repeats').length;
    // Absence can only be shown by waiting: several intervals in which a repeat would have come.
    await sleep(5 * REPORT_EVERY_MS);
    expect(server.reportsFor('job-repeats')).toHaveLength(count);
    expect(server.reportsFor('job-repeats').at(-1)?.body.state).toBe('installed');
  });

  it("repeats carry the download's bytes so far", async () => {
    const computer = await startComputer('pc-bytes');
    const pkg = await server.makePackage({ installCommand: 'simulated', files: { 'big.bin': randomBytes(64 * 1024).toString('hex') } });
    server.stalled.add(pkg.packageId);
    await server.send(computer.url, installOrder(computer, pkg, 'job-bytes', REPORT_EVERY_MS));
    const report = await eventually(
      async () => server.reportsFor('job-bytes').find((received) => (received.body.bytes ?? 0) > 0),
      10_000,
      'a report with bytes',
    );
    expect(report.body).toMatchObject({ state: 'downloading' });
  });

  it('retries the final status through a server outage until it gets through', async () => {
    const computer = await startComputer('pc-outage');
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    server.reportAnswers.set('job-outage', 503);
    expect(await server.follow(computer.url, installOrder(computer, pkg, 'job-outage'))).toMatchObject({ state: 'installed' });
    await eventually(async () => (reportsIn('job-outage', 'installed').length >= 3 ? true : undefined), 10_000, 'the installed report retried');
    expect(server.reportsFor('job-outage').every((report) => report.answeredWith === 503)).toBe(true);

    server.reportAnswers.delete('job-outage');
    await reportArrives('job-outage', (state, answeredWith) => state === 'installed' && answeredWith === 202, 'the installed report taken');
  });

  it('stops reporting an order the server refuses with a 4xx, and says so once', async () => {
    const lines: string[] = [];
    const computer = await startComputer('pc-gone', (line) => lines.push(line));
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    server.reportAnswers.set('job-gone', 404);
    const release = hold('job-gone');
    const order = installOrder(computer, pkg, 'job-gone', REPORT_EVERY_MS);
    await server.send(computer.url, order);
    await reportArrives('job-gone', (_state, answeredWith) => answeredWith === 404, 'the refused report');
    // Repeats and the changes to come would each be a report: none may follow.
    await server.follow(computer.url, order, (status) => status.state === 'installing');
    release();
    await server.follow(computer.url, order);
    await sleep(5 * REPORT_EVERY_MS);

    expect(server.reportsFor('job-gone')).toHaveLength(1);
    expect(lines.filter((line) => line.includes('job-gone'))).toEqual([expect.stringMatching(/reports of order .* stopped: .*HTTP 404/)]);
  });

  it('reports an order resumed after a restart at once, with the new token', async () => {
    const name = 'pc-restart';
    const first = await startComputer(name);
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    server.stalled.add(pkg.packageId);
    await server.send(first.url, installOrder(first, pkg, 'job-restart', REPORT_EVERY_MS));
    await reportArrives('job-restart', (state) => state === 'downloading', 'the first report');
    await stopComputer(first);
    server.stalled.delete(pkg.packageId);
    const beforeRestart = server.reportsFor('job-restart').length;

    hold('job-restart');
    await startComputer(name);
    await reportArrives('job-restart', (state) => state === 'installing', 'the installing report');
    const [resumed, ...later] = server.reportsFor('job-restart').slice(beforeRestart);
    expect(resumed?.body.state).toBe('downloading');
    for (const report of [resumed, ...later]) expect(report?.authorization).toBe(`Bearer ${server.tokenOf(name)}`);
    expect(server.reportsFor('job-restart')[0]?.authorization).not.toBe(`Bearer ${server.tokenOf(name)}`);
  });

  it('refuses an install order whose reportEveryMs is not a positive whole number of milliseconds', async () => {
    const computer = await startComputer('pc-shape');
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    for (const [jobId, reportEveryMs] of [['job-zero', 0], ['job-fraction', 2.5]] as const) {
      const answer = await server.send(computer.url, installOrder(computer, pkg, jobId, reportEveryMs));
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'bad_order', message: expect.stringMatching(/reportEveryMs/) } } });
    }
    expect(server.requestsFor(pkg.packageId)).toHaveLength(0);
  });

  it('sends nothing once the agent has stopped, even with a report held in flight', async () => {
    const computer = await startComputer('pc-stopped');
    const pkg = await server.makePackage({ installCommand: 'simulated' });
    hold('job-stopped');
    await server.send(computer.url, installOrder(computer, pkg, 'job-stopped', REPORT_EVERY_MS));
    await eventually(async () => (reportsIn('job-stopped', 'installing').length >= 2 ? true : undefined), 10_000, 'installing repeats');
    let answer!: () => void;
    server.reportGate = new Promise((resolve) => (answer = resolve));
    await reportArrives('job-stopped', (_state, answeredWith) => answeredWith === undefined, 'a report held by the server');

    await stopComputer(computer);
    const stoppedAt = Date.now();
    answer();
    await sleep(5 * REPORT_EVERY_MS);
    expect(server.reportsFor('job-stopped').filter((report) => report.at >= stoppedAt)).toEqual([]);
  });
});
