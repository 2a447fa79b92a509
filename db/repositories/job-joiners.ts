/**
 * Computers joining dynamic jobs: a job targeting labels with `dynamic: true` takes in computers that gain
 * its labels after its creation, until its deadline. The api adds a computer as soon as its labels change
 * (api/services/dynamic-jobs.ts); the job's workflow sweeps for any it missed and hands the joined
 * computers out in batches of their own, each claiming its computers by number (see JoinedRange).
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Labels } from '../../common/labels.js';
import type { Database } from '../client.js';
import { jobs, jobTargets } from '../schema/index.js';

/** A dynamic job that computers may still join. */
export interface OpenDynamicJob {
  id: string;
  workflowId: string;
  labels: Labels;
}

/** The dynamic jobs still open to joiners whose labels `computerId` carries now. */
export async function dynamicJobsMatching(db: Database, computerId: string): Promise<OpenDynamicJob[]> {
  const rows = await db
    .select({ id: jobs.id, workflowId: jobs.workflowId, spec: jobs.targetSpec })
    .from(jobs)
    .where(
      and(
        sql`${jobs.targetSpec}->>'dynamic' = 'true'`,
        isNull(jobs.finishedAt),
        sql`${jobs.deadline} > now()`,
        sql`(select labels from computers where id = ${computerId}) @> (${jobs.targetSpec}->'labels')`,
      ),
    );
  return rows.map((row) => ({ id: row.id, workflowId: row.workflowId, labels: row.spec.labels ?? {} }));
}

/**
 * Adds the computers carrying `labels` that the job has no target for yet, as joined now: every such
 * computer, or only `computerId`. Returns how many joined. A computer that is a target already (it was
 * one at creation, or joined before) stays as it is.
 */
export async function addJoiners(db: Database, jobId: string, labels: Labels, computerId?: string): Promise<number> {
  const rows = await db.execute<{ target_id: string }>(sql`
    insert into job_targets (job_id, kind, target_id, name, joined_at)
    select ${jobId}::uuid, 'computer', computer.id, computer.name, now()
    from computers computer
    where computer.labels @> ${JSON.stringify(labels)}::jsonb
      ${computerId ? sql`and computer.id = ${computerId}` : sql``}
      and not exists (select 1 from job_targets target
        where target.job_id = ${jobId}::uuid and target.kind = 'computer' and target.target_id = computer.id)
    on conflict do nothing
    returning target_id`);
  return rows.length;
}

/**
 * Lists for staging the relays the job's computers are behind, joiners included, as an install or offer
 * job's staging does when it starts (whichever runs first lists them all); then says how many relays
 * behind batch `batch`'s joiners nobody has begun staging on yet.
 */
export async function listJoinersRelays(db: Database, jobId: string, batch: number): Promise<number> {
  await listComputersRelays(db, jobId);
  const [row] = await db.execute<{ count: number }>(sql`
    select count(distinct r.relay_id)::int as count
    from job_relays r
    join computers c on c.relay_id = r.relay_id
    join job_targets t on t.target_id = c.id and t.job_id = r.job_id and t.kind = 'computer'
    where r.job_id = ${jobId}::uuid and r.state = 'pending' and t.joined_batch = ${batch} and t.joined_at is not null`);
  return row?.count ?? 0;
}

/** Lists the relays of every computer the job targets in job_relays; those listed before stay as they are. */
export async function listComputersRelays(db: Database, jobId: string): Promise<void> {
  await db.execute(sql`
    insert into job_relays (job_id, relay_id)
    select distinct ${jobId}::uuid, c.relay_id from job_targets t join computers c on c.id = t.target_id
    where t.job_id = ${jobId}::uuid and t.kind = 'computer' and c.relay_id is not null
    on conflict do nothing`);
}

/** Whether computers have joined the job that no batch has claimed yet. */
export async function hasUnclaimedJoiners(db: Database, jobId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql`1` })
    .from(jobTargets)
    .where(and(eq(jobTargets.jobId, jobId), isNotNull(jobTargets.joinedAt), isNull(jobTargets.joinedBatch)))
    .limit(1);
  return rows.length > 0;
}

/**
 * Gives up to `limit` unclaimed joined computers to batch `batch`; returns how many the batch owns. A
 * retry after a lost answer finds the batch's computers already claimed and claims no more.
 */
export async function claimJoiners(db: Database, jobId: string, batch: number, limit: number): Promise<number> {
  const owned = (
    await db.execute<{ count: number }>(sql`
      select count(*)::int as count from job_targets
      where job_id = ${jobId}::uuid and joined_at is not null and joined_batch = ${batch}`)
  )[0]?.count;
  if (owned) return owned;
  const claimed = await db.execute(sql`
    update job_targets set joined_batch = ${batch}
    where (job_id, kind, target_id) in (
      select job_id, kind, target_id from job_targets
      where job_id = ${jobId}::uuid and joined_at is not null and joined_batch is null
      order by joined_at, target_id
      limit ${limit}
      for update skip locked)
    returning target_id`);
  return claimed.length;
}
