/**
 * transferJob and relayCopy on the real dev server, with the real activities and PostgreSQL but in-process
 * relays: which transfers send the package, which do not, and what happens when a copy expires.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { AgentClient } from '../../activities/agent-client.js';
import { createActivities } from '../../activities/index.js';
import { jobWorkflowId, relayCopyWorkflowId, searchAttributes } from '../../common/names.js';
import { jobTargets, packages, relayCopies } from '../../db/schema/index.js';
import { loadOrCreateServerKey } from '../../trust/signing.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FakeRelays } from '../support/fake-relays.js';
import { insertJob, insertPackage, insertRelay } from '../support/jobs.js';
import { connectClient, eventually, recordHistory, uniqueTaskQueue, workflowsPath } from '../support/temporal.js';

let database: TestDatabase;
let client: Client;
let connection: Connection;
let worker: Worker;
let running: Promise<void>;
let relays: FakeRelays;
let taskQueue: string;
const relayIds = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  ({ client, connection } = await connectClient());
  const key = await loadOrCreateServerKey(join(tmpdir(), `courier-key-${randomUUID()}.pem`));
  for (const name of ['relay-a', 'relay-b', 'relay-c']) relayIds.set(name, await insertRelay(database.db, name));
  relays = new FakeRelays(key, relayIds);
  taskQueue = uniqueTaskQueue('transfer-job');
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: inject('temporalAddress') }),
    taskQueue,
    workflowsPath,
    activities: createActivities({
      db: database.db,
      agents: new AgentClient({ key, transport: relays.transport }),
      key,
      temporal: client,
      taskQueue,
      publicUrl: 'http://server.test',
      agentPollMs: 50,
      reportEveryMs: 1000,
      downloads: { perRelay: 100, server: 50 },
      clock: () => new Date(),
    }),
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await database?.drop();
});

async function transfer(packageId: string, relayNames: string[], deadlineMs?: number) {
  const input = await insertJob(
    database.db,
    'transfer',
    packageId,
    relayNames.map((name) => ({ kind: 'relay', id: relayIds.get(name)!, name })),
    deadlineMs,
  );
  const outcome = await client.workflow.execute('transferJob', { taskQueue, workflowId: jobWorkflowId(input.jobId), args: [input] });
  const targets = await database.db.select().from(jobTargets).where(eq(jobTargets.jobId, input.jobId));
  return { input, outcome, states: Object.fromEntries(targets.map((target) => [target.name, target.state])), targets };
}

async function copyOf(relay: string, packageId: string) {
  const [copy] = await database.db
    .select()
    .from(relayCopies)
    .where(and(eq(relayCopies.relayId, relayIds.get(relay)!), eq(relayCopies.packageId, packageId)));
  return copy;
}

describe('transferJob', () => {
  it('stores the package once; a second transfer finds it already stored and sends nothing', async () => {
    const packageId = await insertPackage(database.db, new Date(Date.now() + 3_600_000));
    const first = await transfer(packageId, ['relay-a']);
    expect(first.states).toEqual({ 'relay-a': 'stored' });
    expect(first.outcome.status).toBe('completed');
    expect(relays.fetches('relay-a')).toBe(1);

    const second = await transfer(packageId, ['relay-a']);
    expect(second.states).toEqual({ 'relay-a': 'already_stored' });
    expect(relays.fetches('relay-a')).toBe(1);
    // The copy's workflow holds the expiry timer, visible to operators under its own ID.
    const copyWorkflow = await client.workflow.getHandle(relayCopyWorkflowId(relayIds.get('relay-a')!, packageId)).describe();
    expect(copyWorkflow.status.name).toBe('RUNNING');
    expect(copyWorkflow.typedSearchAttributes.get(searchAttributes.packageId)).toBe(packageId);
  });

  it('a changed expiry is not applied to held copies until a transfer sends the package again', async () => {
    const oldExpiry = new Date(Date.now() + 3_600_000);
    const packageId = await insertPackage(database.db, oldExpiry);
    await transfer(packageId, ['relay-b']);
    const newExpiry = new Date(Date.now() + 7_200_000);
    await database.db.update(packages).set({ relayExpiresAt: newExpiry }).where(eq(packages.id, packageId));
    expect((await copyOf('relay-b', packageId))!.expiresAt.getTime()).toBe(oldExpiry.getTime());

    const retransfer = await transfer(packageId, ['relay-b']);
    await recordHistory(jobWorkflowId(retransfer.input.jobId), 'transfer-job-retransfer');
    expect(retransfer.states).toEqual({ 'relay-b': 'stored' });
    expect(relays.fetches('relay-b')).toBe(2);
    expect((await copyOf('relay-b', packageId))!.expiresAt.getTime()).toBe(newExpiry.getTime());
    expect(relays.copies.get('relay-b')!.get(packageId)).toBe(newExpiry.toISOString());
  });

  it('when a copy expires the relay is told to delete it, and the next job transfers it again', async () => {
    const expiry = new Date(Date.now() + 3000);
    const packageId = await insertPackage(database.db, expiry);
    await transfer(packageId, ['relay-c']);
    expect(relays.copies.get('relay-c')!.has(packageId)).toBe(true);

    await eventually(async () => (relays.count('relay-c', 'delete') === 1 ? true : undefined), 20_000, 'the delete order');
    const copyWorkflow = client.workflow.getHandle(relayCopyWorkflowId(relayIds.get('relay-c')!, packageId));
    await copyWorkflow.result();
    await recordHistory(copyWorkflow.workflowId, 'relay-copy-expiry');
    const deletion = relays.orders.find((order) => order.relay === 'relay-c' && order.kind === 'delete')!;
    expect(Date.parse(deletion.issuedAt)).toBeGreaterThanOrEqual(expiry.getTime());
    expect(relays.copies.get('relay-c')!.has(packageId)).toBe(false);
    expect((await copyOf('relay-c', packageId))!.state).toBe('expired');

    await database.db.update(packages).set({ relayExpiresAt: new Date(Date.now() + 3_600_000) }).where(eq(packages.id, packageId));
    const again = await transfer(packageId, ['relay-c']);
    expect(again.states).toEqual({ 'relay-c': 'stored' });
    expect(relays.fetches('relay-c')).toBe(2);
  });

  it('a retransfer that lands while the expired copy is being deleted keeps the fresh copy and its timer', async () => {
    const expiry = new Date(Date.now() + 3000);
    const packageId = await insertPackage(database.db, expiry);
    await transfer(packageId, ['relay-a']);
    const later = new Date(Date.now() + 3_600_000);
    relays.beforeDelete = async (relay, deleting) => {
      if (relay !== 'relay-a' || deleting !== packageId) return;
      relays.beforeDelete = undefined;
      await database.db.update(packages).set({ relayExpiresAt: later }).where(eq(packages.id, packageId));
      await transfer(packageId, ['relay-a']);
    };
    await eventually(async () => (relays.count('relay-a', 'delete') >= 1 && !relays.beforeDelete ? true : undefined), 20_000, 'the delete order');
    const copyWorkflow = client.workflow.getHandle(relayCopyWorkflowId(relayIds.get('relay-a')!, packageId));
    // The copy lives on: on the relay, on record, and under a timer set to its new expiry.
    await eventually(async () => ((await copyOf('relay-a', packageId))?.state === 'stored' ? true : undefined), 10_000, 'the record');
    expect(relays.copies.get('relay-a')!.get(packageId)).toBe(later.toISOString());
    expect((await copyOf('relay-a', packageId))!.expiresAt.getTime()).toBe(later.getTime());
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await copyWorkflow.describe()).status.name).toBe('RUNNING');
    await recordHistory(copyWorkflow.workflowId, 'relay-copy-retransfer-during-delete');
  });

  it('an unreachable relay is retried until the deadline, then fails with the reason; the others are stored', async () => {
    const packageId = await insertPackage(database.db, new Date(Date.now() + 3_600_000));
    relays.down.add('relay-b');
    try {
      const result = await transfer(packageId, ['relay-a', 'relay-b'], 5000);
      expect(result.states).toEqual({ 'relay-a': 'stored', 'relay-b': 'failed' });
      const failed = result.targets.find((target) => target.name === 'relay-b')!;
      expect(failed.detail).toMatch(/unreachable: .*ECONNREFUSED/);
      expect(failed.attempts).toBeGreaterThan(1);
      expect(failed.updatedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(result.input.deadline));
      expect(result.outcome.status).toBe('completed_with_errors');
    } finally {
      relays.down.delete('relay-b');
    }
  });
});
