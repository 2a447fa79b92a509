/** Rows for workflow tests that run real activities without the api: packages, relays, jobs. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Database } from '../../db/client.js';
import { jobTargets, jobs, packages, relays } from '../../db/schema/index.js';
import type { JobType, TargetKind } from '../../common/states.js';
import { jobWorkflowId } from '../../common/names.js';

export async function insertPackage(db: Database, relayExpiresAt: Date): Promise<string> {
  const [row] = await db
    .insert(packages)
    .values({
      name: `pkg-${randomBytes(3).toString('hex')}`,
      version: '1.0.0',
      sha256: randomBytes(32).toString('hex'),
      size: 42,
      format: 'file',
      fileName: 'payload.bin',
      installCommand: 'true',
      timeoutSeconds: 60,
      conditions: {},
      manifestSignature: 'unused-by-fake-agents',
      relayExpiresAt,
    })
    .returning({ id: packages.id });
  return row!.id;
}

export async function insertRelay(db: Database, name: string): Promise<string> {
  const [row] = await db.insert(relays).values({ name, url: `http://${name}.test` }).returning({ id: relays.id });
  return row!.id;
}

export interface JobTargetRow {
  kind: TargetKind;
  id: string;
  name: string;
}

/** Writes a job and its targets as the api would, and returns the workflow input to start it with. */
export async function insertJob(db: Database, type: JobType, packageId: string, targets: JobTargetRow[], deadlineMs = 60_000) {
  const id = randomUUID();
  const scheduledAt = new Date();
  const deadline = new Date(scheduledAt.getTime() + deadlineMs);
  await db.insert(jobs).values({
    id,
    type,
    packageId,
    targetSpec: {},
    scheduledAt,
    deadline,
    workflowId: jobWorkflowId(id),
  });
  await db.insert(jobTargets).values(targets.map((target) => ({ jobId: id, kind: target.kind, targetId: target.id, name: target.name })));
  return { jobId: id, packageId, scheduledAt: scheduledAt.toISOString(), deadline: deadline.toISOString() };
}
