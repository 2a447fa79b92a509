/**
 * Writes to job_targets, keyed by (job, kind, target) so that an activity retried after a crash writes the
 * same row again instead of a second one. A target in a terminal state is never changed afterwards: the
 * first real outcome wins, and a late retry cannot overwrite it.
 */
import { and, asc, eq, gt, inArray, isNotNull, isNull, lte, notInArray, sql, type SQL } from 'drizzle-orm';
import { terminalTargetStates, type TargetKind, type TargetState } from '../../common/states.js';
import type { TargetRange } from '../../common/workflows.js';
import type { Database } from '../client.js';
import { jobTargets } from '../schema/index.js';

const terminal = [...terminalTargetStates];

/** One target of one job: the primary key of job_targets. */
export interface TargetKey {
  jobId: string;
  kind: TargetKind;
  targetId: string;
}

/** A target's new state and, optionally, what to record with it. */
export interface TargetUpdate {
  state: TargetState;
  /** Undefined keeps the current detail; null clears it. */
  detail?: string | null;
  /** How many times Courier has tried to reach the target so far. */
  attempts?: number;
}

/** The condition selecting the row of `key`. */
export function matchesTarget(key: TargetKey): SQL {
  return and(eq(jobTargets.jobId, key.jobId), eq(jobTargets.kind, key.kind), eq(jobTargets.targetId, key.targetId))!;
}

/** Moves a target to a new state unless it already ended; returns the state it now has. */
export async function updateTarget(db: Database, key: TargetKey, update: TargetUpdate): Promise<TargetState | undefined> {
  const [row] = await db
    .update(jobTargets)
    .set({
      state: update.state,
      ...(update.detail !== undefined && { detail: update.detail }),
      ...(update.attempts !== undefined && { attempts: sql`greatest(${jobTargets.attempts}, ${update.attempts})` }),
      updatedAt: sql`now()`,
    })
    .where(and(matchesTarget(key), notInArray(jobTargets.state, terminal)))
    .returning({ state: jobTargets.state });
  return row?.state ?? (await findTarget(db, key))?.state;
}

/** The target's row, or undefined when the job has no such target. */
export async function findTarget(db: Database, key: TargetKey) {
  const [row] = await db.select().from(jobTargets).where(matchesTarget(key));
  return row;
}

/** Moves every unfinished target of a job (optionally only some of them) to `state` with one reason. */
export async function settleUnfinishedTargets(
  db: Database,
  jobId: string,
  state: TargetState,
  detail: string,
  targetIds?: string[],
): Promise<number> {
  const rows = await db
    .update(jobTargets)
    .set({ state, detail, updatedAt: sql`now()` })
    .where(
      and(
        eq(jobTargets.jobId, jobId),
        notInArray(jobTargets.state, terminal),
        ...(targetIds ? [inArray(jobTargets.targetId, targetIds)] : []),
      ),
    )
    .returning({ targetId: jobTargets.targetId });
  return rows.length;
}

/**
 * The next page of the unfinished targets of one kind a job was created with, in a stable order, after
 * `afterId` (and up to `throughId`). Computers that joined later are handed out apart (JoinedRange).
 */
export async function unfinishedTargetPage(
  db: Database,
  jobId: string,
  kind: TargetKind,
  afterId: string | undefined,
  limit: number,
  throughId?: string,
): Promise<string[]> {
  const rows = await db
    .select({ targetId: jobTargets.targetId })
    .from(jobTargets)
    .where(
      and(
        eq(jobTargets.jobId, jobId),
        eq(jobTargets.kind, kind),
        notInArray(jobTargets.state, terminal),
        isNull(jobTargets.joinedAt),
        ...(afterId ? [gt(jobTargets.targetId, afterId)] : []),
        ...(throughId ? [lte(jobTargets.targetId, throughId)] : []),
      ),
    )
    .orderBy(asc(jobTargets.targetId))
    .limit(limit);
  return rows.map((row) => row.targetId);
}

/** The condition selecting a job's targets of one kind within one batch's range. */
export function inTargetRange(jobId: string, kind: TargetKind, range: TargetRange): SQL {
  const owned =
    'joinedBatch' in range
      ? [eq(jobTargets.joinedBatch, range.joinedBatch), isNotNull(jobTargets.joinedAt)]
      : [
          isNull(jobTargets.joinedAt),
          ...(range.afterTargetId ? [gt(jobTargets.targetId, range.afterTargetId)] : []),
          lte(jobTargets.targetId, range.throughTargetId),
        ];
  return and(eq(jobTargets.jobId, jobId), eq(jobTargets.kind, kind), ...owned)!;
}

/** A job's unfinished targets of one kind within one batch's range, leaving out those in `skipStates`. */
export async function unfinishedTargetsInRange(
  db: Database,
  jobId: string,
  kind: TargetKind,
  range: TargetRange,
  skipStates: readonly TargetState[] = [],
): Promise<string[]> {
  const rows = await db
    .select({ targetId: jobTargets.targetId })
    .from(jobTargets)
    .where(and(inTargetRange(jobId, kind, range), notInArray(jobTargets.state, [...terminal, ...skipStates])))
    .orderBy(asc(jobTargets.targetId));
  return rows.map((row) => row.targetId);
}

/** How many of a job's targets are in each state. */
export async function countTargetStates(db: Database, jobId: string): Promise<Partial<Record<TargetState, number>>> {
  const rows = await db
    .select({ state: jobTargets.state, count: sql<number>`count(*)::int` })
    .from(jobTargets)
    .where(eq(jobTargets.jobId, jobId))
    .groupBy(jobTargets.state);
  return Object.fromEntries(rows.map((row) => [row.state, row.count]));
}

/**
 * Refreshes PostgreSQL's statistics of job_targets. Until they know a new job's rows, the planner takes
 * its id for a rare value and may look one target up through `job_targets_state`, whose leading columns
 * are only (job_id, kind): that reads every entry of the job, 270 ms at 100,000 targets instead of a
 * fraction of a millisecond through the primary key, for each of a fleet's reports. Autovacuum would
 * analyse the table too, but only minutes into the job.
 */
export async function refreshTargetStatistics(db: Database): Promise<void> {
  await db.execute(sql`analyze job_targets`);
}
