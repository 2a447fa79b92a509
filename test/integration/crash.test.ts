/**
 * Durability on the real stack: a worker killed in the middle of an install loses no job and installs
 * nothing twice, and a job the api wrote but could not hand to Temporal before it died still runs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../db/schema/index.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { insertJob } from '../support/jobs.js';
import { TestStack, targetStates } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await TestStack.start();
  await stack.startAgent({ role: 'relay', name: 'relay-1' });
  await stack.startAgent({ role: 'computer', name: 'pc-1', relay: 'relay-1' });
  await stack.startAgent({ role: 'computer', name: 'pc-2' });
});

afterAll(async () => {
  await stack?.stop();
});

describe('a crash in the middle of a job', () => {
  it('killing the worker while computers install loses no job and installs nothing twice', async () => {
    // Each run of the install command appends one line, so a second run would show.
    const archive = await makeTarGz({ 'install.sh': 'echo run >> "$COURIER_TARGET_DIR/runs"\nsleep 8\n' });
    const upload = await uploadPackage(stack, { name: 'slow', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const created = await stack.request('POST', '/jobs', {
      type: 'install',
      packageId: upload.body.id,
      targets: { computers: ['pc-1', 'pc-2'] },
    });
    await eventually(
      async () => {
        const { body } = await stack.request('GET', `/jobs/${created.body.id}`);
        return Object.values(targetStates(body)).every((state) => state === 'installing') ? true : undefined;
      },
      30_000,
      'both computers to be installing',
    );

    await stack.crashWorker();

    const done = await stack.finishedJob(created.body.id, 120_000);
    expect(done.status).toBe('completed');
    expect(targetStates(done)).toEqual({ 'pc-1': 'installed', 'pc-2': 'installed' });
    for (const name of ['pc-1', 'pc-2']) {
      expect(await readFile(join(stack.agents.get(name)!.dataDir, 'root', 'runs'), 'utf8')).toBe('run\n');
    }
  });

  it('a job written just before the api died is handed to Temporal when the api is back', async () => {
    const archive = await makeTarGz({ 'install.sh': 'echo run >> "$COURIER_TARGET_DIR/recovered"\n' });
    const upload = await uploadPackage(stack, { name: 'recovered', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    const computers = await stack.request('GET', '/computers');
    const pc2 = computers.body.items.find((computer: { name: string }) => computer.name === 'pc-2');
    // What the api commits before it starts the workflow; then it dies, and nothing started the workflow.
    const job = await insertJob(stack.database.db, 'install', upload.body.id, [{ kind: 'computer', id: pc2.id, name: 'pc-2' }]);
    await stack.database.db
      .update(jobs)
      .set({ createdAt: new Date(Date.now() - 60_000) })
      .where(eq(jobs.id, job.jobId));

    await stack.crashApi();

    const done = await stack.finishedJob(job.jobId);
    expect(targetStates(done)).toEqual({ 'pc-2': 'installed' });
    expect(await readFile(join(stack.agents.get('pc-2')!.dataDir, 'root', 'recovered'), 'utf8')).toBe('run\n');
  });
});
