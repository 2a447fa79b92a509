/**
 * Rollouts on the api's side: a job's waves resolved against its computers when it is created (the last
 * computer of each wave in id order, which the job's workflow pages up to), and each wave's counts for the
 * job view. An admin resumes a paused rollout through api/services/jobs.ts.
 */
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { waveEnds, type Rollout, type RolloutPlan } from '../../common/rollout.js';
import { jobs, jobTargets } from '../../db/schema/index.js';
import type { AppDependencies, Transaction } from '../dependencies.js';
import { stateCountsSchema } from '../view-schemas.js';

type Db = AppDependencies['db'];

/** One wave in the job view: its number (0 first), how many computers it has, and their counts by state. */
export const waveViewSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  size: z.number().int().positive(),
  counts: stateCountsSchema,
});

export type WaveView = z.infer<typeof waveViewSchema>;

/** Resolves the job's waves against its `total` computers (inserted in `tx`) and records the plan on the job. */
export async function planRollout(tx: Transaction, jobId: string, rollout: Rollout, total: number): Promise<RolloutPlan> {
  const ends = waveEnds(rollout.waves, total);
  // Every wave's last computer in one pass over the job's targets (job_targets' primary key order).
  const rows = await tx.execute<{ target_id: string }>(sql`
    select target_id from (
      select target_id, row_number() over (order by target_id) as position
      from job_targets where job_id = ${jobId}::uuid and kind = 'computer'
    ) numbered
    where position = any(${sql.param(ends)}::int[])
    order by position`);
  const plan: RolloutPlan = {
    requested: rollout.waves,
    waves: ends.map((end, index) => ({ size: end - (ends[index - 1] ?? 0), throughTargetId: rows[index]!.target_id })),
    pauseSeconds: rollout.pauseSeconds ?? 0,
    failureThreshold: rollout.failureThreshold ?? null,
  };
  await tx.update(jobs).set({ rollout: plan }).where(eq(jobs.id, jobId));
  return plan;
}

/** Each wave's counts by state, from one pass over the job's targets. */
export async function waveViews(db: Db, jobId: string, plan: RolloutPlan | null): Promise<WaveView[]> {
  if (!plan) return [];
  const cases = plan.waves.map((wave, index) => sql`when ${jobTargets.targetId} <= ${wave.throughTargetId}::uuid then ${index}`);
  const waveOf: SQL<number> = sql`(case ${sql.join(cases, sql` `)} end)::int`;
  const rows = await db
    .select({ wave: waveOf, state: jobTargets.state, count: sql<number>`count(*)::int` })
    .from(jobTargets)
    // Computers that joined a dynamic job later belong to no wave.
    .where(and(eq(jobTargets.jobId, jobId), isNull(jobTargets.joinedAt)))
    .groupBy(sql`1`, jobTargets.state);
  const views = plan.waves.map((wave, index): WaveView => ({ index, size: wave.size, counts: {} }));
  for (const row of rows) if (views[row.wave]) views[row.wave]!.counts[row.state] = row.count;
  return views;
}
