/**
 * Handing jobs to Temporal when the start call goes wrong, against real PostgreSQL and the suite's dev
 * server, driven over HTTP. Only `workflow.start` is ever replaced (by a stand-in that times out before or
 * after reaching Temporal); every other call, the database and the recovery sweep are the real ones. No
 * worker runs here, so started workflows stay open until a test ends them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, isGrpcDeadlineError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { PackageStore } from '../../api/package-store.js';
import { launchUnlaunchedJobs } from '../../api/services/job-recovery.js';
import { loadConfig, type CourierConfig } from '../../common/config.js';
import { computers, jobs, jobTargets } from '../../db/schema/index.js';
import { loadOrCreateServerKey, type ServerKey } from '../../trust/signing.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { insertPackage } from '../support/jobs.js';
import { silentLogger } from '../../common/logger.js';

const adminToken = `admin-${randomBytes(8).toString('hex')}`;
const taskQueue = `job-launch-test-${randomBytes(4).toString('hex')}`;

let database: TestDatabase;
let dataDir: string;
let connection: Connection;
let temporal: Client;
let config: CourierConfig;
let serverKey: ServerKey;
let store: PackageStore;
let packageId: string;
const servers: Server[] = [];

type Start = Client['workflow']['start'];

/** `target` with some members replaced; the others are the real ones, methods bound to `target`. */
function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (key in overrides) return overrides[key as keyof T];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/** The suite's client, with `start` standing in for `workflow.start`. */
function clientStarting(start: (...args: Parameters<Start>) => Promise<unknown>): Client {
  return withOverrides(temporal, { workflow: withOverrides(temporal.workflow, { start: start as Start }) });
}

/** A real "deadline exceeded" from the client, as a start gets when Temporal answers too late. */
async function deadlineExceeded(): Promise<unknown> {
  const error = await temporal
    .withDeadline(Date.now() - 1, () => temporal.workflow.getHandle('no-such-workflow').describe())
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(isGrpcDeadlineError(error)).toBe(true);
  return error;
}

/** A start whose answer is lost: Temporal starts the workflow, the api hears a timeout. */
function answerLost(): Client {
  return clientStarting(async (...args) => {
    await temporal.workflow.start(...args);
    throw await deadlineExceeded();
  });
}

/** A start that times out before Temporal gets it. */
function neverArrives(): Client {
  return clientStarting(async () => {
    throw await deadlineExceeded();
  });
}

/** Serves the api with `client` as its Temporal; returns how to call it. */
async function serve(client: Client) {
  const app = createApp({ db: database.db, temporal: client, config, serverKey, store, logger: silentLogger() });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`;
  return async (method: string, path: string, json?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: response.status, body: await response.json() };
  };
}

type Call = Awaited<ReturnType<typeof serve>>;
let api: Call;

/** The recovery sweep as it runs once the jobs are older than its grace period. */
function sweep(client: Client = temporal): Promise<number> {
  return launchUnlaunchedJobs({ db: database.db, temporal: client, config, logger: silentLogger() }, new Date(Date.now() + 60_000));
}

async function jobRow(id: string) {
  const [row] = await database.db.select().from(jobs).where(eq(jobs.id, id));
  return row!;
}

/** Creates an install job for pc-1 through an api whose Temporal is `client`. */
async function createJob(client: Client): Promise<{ id: string; workflowId: string; status: string }> {
  const created = await (await serve(client))('POST', '/jobs', { type: 'install', packageId, targets: { computers: ['pc-1'] } });
  expect(created.status).toBe(201);
  return created.body;
}

/** The latest run's ID: a second run of the workflow ID would show a new one. */
async function runIdOf(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).runId;
}

async function cancelRequested(workflowId: string): Promise<boolean> {
  const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
  return history.events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes) ?? false;
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'courier-launch-'));
  config = loadConfig({
    COURIER_DATA_DIR: dataDir,
    COURIER_ADMIN_TOKEN: adminToken,
    COURIER_TASK_QUEUE: taskQueue,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
  });
  connection = await Connection.connect({ address: config.temporalAddress });
  temporal = new Client({ connection, namespace: config.temporalNamespace });
  serverKey = await loadOrCreateServerKey(config.signingKeyFile);
  store = new PackageStore(config.storeDir);
  packageId = await insertPackage(database.db, new Date(Date.now() + 30 * 24 * 3600_000));
  await database.db.insert(computers).values({ name: 'pc-1', url: 'http://127.0.0.1:4101' });
  api = await serve(temporal);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await connection?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('launching jobs', () => {
  it('keeps a job whose start timed out after Temporal took it, and the sweep records it without a second run', async () => {
    const job = await createJob(answerLost());
    expect(job.status).toBe('scheduled');
    expect((await jobRow(job.id)).launchedAt).toBeNull();
    const handle = temporal.workflow.getHandle(job.workflowId);
    const firstRun = await runIdOf(handle);

    expect(await sweep()).toBe(1);
    expect((await jobRow(job.id)).launchedAt).not.toBeNull();
    expect(await runIdOf(handle)).toBe(firstRun);
    expect(await sweep()).toBe(0);
  });

  it('keeps a job whose start timed out before reaching Temporal, and the sweep starts it exactly once', async () => {
    const job = await createJob(neverArrives());
    expect(job.status).toBe('scheduled');
    const handle = temporal.workflow.getHandle(job.workflowId);
    await expect(handle.describe()).rejects.toThrow(WorkflowNotFoundError);

    expect(await sweep()).toBe(1);
    const run = await runIdOf(handle);
    expect((await jobRow(job.id)).launchedAt).not.toBeNull();
    expect(await sweep()).toBe(0);
    expect(await runIdOf(handle)).toBe(run);
  });

  it('never starts a second run of a job whose workflow has ended, whatever its row says', async () => {
    const job = await createJob(temporal);
    const handle = temporal.workflow.getHandle(job.workflowId);
    const run = await runIdOf(handle);
    // No worker runs here; terminating is how this run ends.
    await handle.terminate('the test ends the run');

    // The launch record lost (say, restored from an old backup): the sweep leaves a finished job alone.
    await database.db.update(jobs).set({ launchedAt: null, status: 'completed' }).where(eq(jobs.id, job.id));
    expect(await sweep()).toBe(0);
    expect((await jobRow(job.id)).status).toBe('completed');
    expect(await runIdOf(handle)).toBe(run);

    // Even a row that still reads `scheduled` gets no second run: Temporal refuses to reuse the ID.
    await database.db.update(jobs).set({ status: 'scheduled' }).where(eq(jobs.id, job.id));
    expect(await sweep()).toBe(1);
    expect(await runIdOf(handle)).toBe(run);
    expect((await handle.describe()).status.name).toBe('TERMINATED');
    expect((await jobRow(job.id)).launchedAt).not.toBeNull();
  });

  it('cancels a job that was never launched at once (200), and the sweep never starts it', async () => {
    const job = await createJob(neverArrives());
    const cancelled = await api('POST', `/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.targets.map((t: any) => [t.name, t.state, t.detail])).toEqual([
      ['pc-1', 'cancelled', 'the job was cancelled before it started'],
    ]);
    expect(await database.db.select().from(jobTargets).where(eq(jobTargets.jobId, job.id))).toEqual([
      expect.objectContaining({ state: 'cancelled' }),
    ]);

    expect(await sweep()).toBe(0);
    await expect(temporal.workflow.getHandle(job.workflowId).describe()).rejects.toThrow(WorkflowNotFoundError);
    expect((await jobRow(job.id)).status).toBe('cancelled');
    const again = await api('POST', `/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('job_finished');
  });

  it('also cancels the workflow of an unlaunched job whose start went through unconfirmed', async () => {
    const job = await createJob(answerLost());
    const cancelled = await api('POST', `/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(await cancelRequested(job.workflowId)).toBe(true);
    expect(await sweep()).toBe(0);
  });

  it('cancels the run the sweep has just started when the job was cancelled during its hand-over', async () => {
    const job = await createJob(neverArrives());
    // The admin's cancel lands between the sweep's check of the job and its start of the workflow.
    const cancelledMeanwhile = clientStarting(async (...args) => {
      expect((await api('POST', `/jobs/${job.id}/cancel`)).status).toBe(200);
      return temporal.workflow.start(...args);
    });
    expect(await sweep(cancelledMeanwhile)).toBe(1);
    expect(await cancelRequested(job.workflowId)).toBe(true);
    expect((await jobRow(job.id)).status).toBe('cancelled');
  });
});
