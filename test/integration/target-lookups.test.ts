/**
 * A large job's targets are found as fast as a small job's: by their key through the primary key, and
 * never failed for a relay the job had simply not listed yet. Both went wrong at 100,000 computers.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relaysReadiness } from '../../activities/relay-readiness.js';
import { computers, jobRelays, jobTargets } from '../../db/schema/index.js';
import { insertJob, insertPackage, insertRelay } from '../support/jobs.js';
import { TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await TestStack.start();
});

afterAll(async () => {
  await stack?.stop();
});

describe('a large job', () => {
  it('looks its targets up by key through the primary key, as soon as the api created it', async () => {
    const { db } = stack.database;
    const names = Array.from({ length: 3000 }, (_, index) => `pc-lookup-${index}`);
    await db.insert(computers).values(names.map((name) => ({ name, url: `http://${name}.test` })));
    const packageId = await insertPackage(db, new Date(Date.now() + 86_400_000));
    const scheduledAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { all: true }, scheduledAt });
    expect(created.status).toBe(201);

    const [target] = await db.select().from(jobTargets).where(eq(jobTargets.jobId, created.body.id)).limit(1);
    // The plan every report's prepared statement gets once PostgreSQL settles on a generic one.
    const plan = await db.transaction(async (tx) => {
      await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
      await tx.execute(sql.raw(`prepare lookup(uuid, text, uuid) as
        select 1 from job_targets where job_id = $1 and kind = $2 and target_id = $3 and state not in ('installed', 'failed')`));
      // EXPLAIN EXECUTE takes no bind parameters; both values are UUIDs read from the database.
      const rows = await tx.execute<{ 'QUERY PLAN': string }>(sql.raw(`explain execute lookup('${target!.jobId}', 'computer', '${target!.targetId}')`));
      await tx.execute(sql`deallocate lookup`);
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    // An index scan on the whole key (the primary key, or job_targets_target, which holds it too): one entry
    // read, never the job's every entry.
    expect(plan).toMatch(/^Index Scan using (job_targets_job_id_kind_target_id_pk|job_targets_target) on job_targets/);
    const condition = /Index Cond: (.*)/.exec(plan)?.[1] ?? '';
    for (const column of ['job_id', 'kind', 'target_id']) expect([column, condition]).toEqual([column, expect.stringContaining(`${column} = `)]);
  });
});

describe('relay readiness', () => {
  it('has computers wait while the job has not listed its relays yet, and fails them only for a relay it did not list', async () => {
    const { db } = stack.database;
    const listedRelay = await insertRelay(db, 'relay-listed');
    const movedTo = await insertRelay(db, 'relay-moved-to');
    const packageId = await insertPackage(db, new Date(Date.now() + 86_400_000));
    const { jobId } = await insertJob(db, 'install', packageId, [{ kind: 'computer', id: randomUUID(), name: 'pc-readiness' }]);

    const before = await relaysReadiness(db, jobId, [listedRelay, movedTo]);
    expect(before.get(listedRelay)).toEqual({ kind: 'waiting', detail: expect.stringContaining('waiting for the job to list its relays') });
    expect(before.get(movedTo)?.kind).toBe('waiting');

    await db.insert(jobRelays).values({ jobId, relayId: listedRelay });
    const after = await relaysReadiness(db, jobId, [listedRelay, movedTo]);
    expect(after.get(listedRelay)).toEqual({ kind: 'waiting', detail: expect.stringContaining('waiting for relay relay-listed to receive the package') });
    expect(after.get(movedTo)).toEqual({ kind: 'failed', detail: expect.stringContaining('is not one this job stages the package on') });
  });
});
