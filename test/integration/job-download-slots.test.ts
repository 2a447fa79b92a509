/**
 * jobDownloadSlots on PostgreSQL: a job's slots in all are those of every relay its computers are behind,
 * counted once each, and the managing server's when some computers have none; the job's own bounds
 * replace the worker's defaults. The job workflow sizes its first pass by this (workflows/batches.ts).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloadSlotActivities } from '../../activities/download-slots.js';
import { computers, jobs } from '../../db/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { insertJob, insertPackage, insertRelay, type JobTargetRow } from '../support/jobs.js';

let database: TestDatabase;
let packageId: string;
const defaults = { perRelay: 100, server: 50 };

/** Computers named `<prefix>-<n>`, behind `relayId` (or none), as job targets. */
async function insertComputers(prefix: string, count: number, relayId: string | null): Promise<JobTargetRow[]> {
  const rows = await database.db
    .insert(computers)
    .values(Array.from({ length: count }, (_, index) => ({ name: `${prefix}-${index}`, url: `http://${prefix}-${index}.test`, relayId })))
    .returning({ id: computers.id, name: computers.name });
  return rows.map((row) => ({ kind: 'computer', id: row.id, name: row.name }));
}

function slotsOf(jobId: string): Promise<number> {
  return createDownloadSlotActivities({ db: database.db, downloads: defaults }).jobDownloadSlots(jobId);
}

beforeAll(async () => {
  database = await createTestDatabase();
  packageId = await insertPackage(database.db, new Date(Date.now() + 3_600_000));
});

afterAll(async () => {
  await database?.drop();
});

describe('jobDownloadSlots', () => {
  it("counts each relay of the job's computers once, and the managing server only when a computer has no relay", async () => {
    const [north, south] = [await insertRelay(database.db, 'north'), await insertRelay(database.db, 'south')];
    const behindRelays = [...(await insertComputers('n', 30, north)), ...(await insertComputers('s', 20, south))];
    const direct = await insertComputers('d', 5, null);

    const relayed = await insertJob(database.db, 'install', packageId, behindRelays);
    expect(await slotsOf(relayed.jobId)).toBe(2 * defaults.perRelay);

    const mixed = await insertJob(database.db, 'install', packageId, [...behindRelays, ...direct]);
    expect(await slotsOf(mixed.jobId)).toBe(2 * defaults.perRelay + defaults.server);

    const directOnly = await insertJob(database.db, 'offer', packageId, direct);
    expect(await slotsOf(directOnly.jobId)).toBe(defaults.server);
  });

  it("uses the job's own downloadsPerRelay and serverDownloads over the defaults", async () => {
    const east = await insertRelay(database.db, 'east');
    const targets = [...(await insertComputers('e', 10, east)), ...(await insertComputers('x', 3, null))];
    const { jobId } = await insertJob(database.db, 'install', packageId, targets);
    await database.db.update(jobs).set({ downloadsPerRelay: 7, serverDownloads: 2 }).where(eq(jobs.id, jobId));
    expect(await slotsOf(jobId)).toBe(7 + 2);
  });
});
