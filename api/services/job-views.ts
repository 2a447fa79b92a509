/**
 * What admins see of jobs: the row, target counts by state and progress (from one GROUP BY), and for a
 * single job a page of its targets. Both page by key (api/cursor.ts). The workflows write the states; this
 * module only reads them.
 */
import { and, asc, desc, eq, exists, inArray, isNotNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { waveEndSchema } from '../../common/rollout.js';
import { windowSchema } from '../../common/windows.js';
import { jobProgress, jobStatuses, jobTypes, offerChoices, targetKinds } from '../../common/states.js';
import { countTargetStates } from '../../db/repositories/job-targets.js';
import { jobs, jobTargets } from '../../db/schema/index.js';
import { pageOf, type Page } from '../cursor.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import { exactTimestamp, olderThan } from '../newest-first.js';
import type { ComputerJobsQuery, JobQuery, JobsQuery } from '../list-queries.js';
import { isUuid } from '../validation.js';
import { stateCountsSchema, targetStateSchema, timestamp, uuid } from '../view-schemas.js';
import { computerIdOf } from './inventory.js';
import { waveViews, waveViewSchema } from './rollouts.js';
import { targetKindOf } from './job-targets.js';

type Db = AppDependencies['db'];
type JobRow = typeof jobs.$inferSelect;
type Counts = z.infer<typeof stateCountsSchema>;

/** A job as listed: everything but its targets. */
export const jobSummaryViewSchema = z.strictObject({
  id: uuid,
  type: z.enum(jobTypes),
  packageId: uuid,
  status: z.enum(jobStatuses),
  scheduledAt: timestamp,
  deadline: timestamp,
  workflowId: z.string(),
  detail: z.string().nullable(),
  rerunOf: uuid.nullable(),
  /** The job's own download bounds; null: the managing server's defaults. */
  downloadsPerRelay: z.number().int().nullable(),
  serverDownloads: z.number().int().nullable(),
  /** Install jobs: the command runs even where another job installed the package. */
  reinstall: z.boolean(),
  /** Install and offer jobs: when computers may get their orders; null is any time. */
  window: windowSchema.nullable(),
  /** The named window `window` was copied from when the job was created; null for one given whole. */
  windowName: z.string().nullable(),
  /** Install jobs with a window: computers download before it opens and install once it does. */
  downloadOutsideWindow: z.boolean(),
  createdAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  /** Percentage (0–100) of targets in a final state. */
  progress: z.number().min(0).max(100),
  counts: stateCountsSchema,
});

export type JobSummaryView = z.infer<typeof jobSummaryViewSchema>;

/** How one target of a job stands. */
const targetProgress = {
  state: targetStateSchema,
  attempts: z.number().int().nonnegative(),
  detail: z.string().nullable(),
  /** Offer jobs: the user's choice once the api has accepted it; null otherwise. */
  choice: z.enum(offerChoices).nullable(),
  updatedAt: timestamp,
};

/** One target of a job and where it stands. */
export const targetViewSchema = z.strictObject({
  kind: z.enum(targetKinds),
  id: uuid,
  name: z.string(),
  ...targetProgress,
  /** Dynamic jobs: when the computer joined, having gained the job's labels after its creation; null otherwise. */
  joinedAt: timestamp.nullable(),
});

export type TargetView = z.infer<typeof targetViewSchema>;

/**
 * One job with a page of its targets; `targetsTotal` counts the targets matching the state filter, and
 * `targetsNextCursor` (null on the last page) asks for the next page as `targetsCursor`.
 */
export const jobViewSchema = jobSummaryViewSchema.extend({
  /** The rollout as the admin gave it; null hands every computer out at once. */
  rollout: z.strictObject({ waves: z.array(waveEndSchema), pauseSeconds: z.number().int(), failureThreshold: z.number().nullable() }).nullable(),
  /** A rollout's waves in order, each with its counts by state; empty without a rollout. */
  waves: z.array(waveViewSchema),
  /** Dynamic jobs: how many computers joined after the job's creation (they count in `counts` too); null otherwise. */
  joined: z.number().int().nonnegative().nullable(),
  targets: z.array(targetViewSchema),
  targetsTotal: z.number().int().nonnegative(),
  targetsNextCursor: z.string().nullable(),
});

export type JobView = z.infer<typeof jobViewSchema>;

/** The job row, or NotFound (also for ids that are not UUIDs). */
export async function findJob(db: Db, id: string): Promise<JobRow> {
  const [row] = isUuid(id) ? await db.select().from(jobs).where(eq(jobs.id, id)) : [];
  if (!row) throw new NotFound('job_not_found', `no job ${id}`);
  return row;
}

async function countsByJob(db: Db, jobIds: string[]): Promise<Map<string, Counts>> {
  const result = new Map<string, Counts>(jobIds.map((id) => [id, {}]));
  if (jobIds.length === 0) return result;
  const rows = await db
    .select({ jobId: jobTargets.jobId, state: jobTargets.state, count: sql<number>`count(*)::int` })
    .from(jobTargets)
    .where(inArray(jobTargets.jobId, jobIds))
    .groupBy(jobTargets.jobId, jobTargets.state);
  for (const row of rows) result.get(row.jobId)![row.state] = row.count;
  return result;
}

function summaryView(row: JobRow, counts: Counts): JobSummaryView {
  return {
    id: row.id,
    type: row.type,
    packageId: row.packageId,
    status: row.status,
    scheduledAt: row.scheduledAt.toISOString(),
    deadline: row.deadline.toISOString(),
    workflowId: row.workflowId,
    detail: row.detail,
    rerunOf: row.rerunOf,
    downloadsPerRelay: row.downloadsPerRelay,
    serverDownloads: row.serverDownloads,
    reinstall: row.reinstall,
    window: row.window,
    windowName: row.windowName,
    downloadOutsideWindow: row.downloadOutsideWindow,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    progress: jobProgress(counts),
    counts,
  };
}

/** Jobs, newest first (jobs_created), without their targets; filtered as the query asks. */
export async function listJobs(db: Db, query: JobsQuery): Promise<Page<JobSummaryView>> {
  const computerId = query.computer === undefined ? undefined : await computerIdOf(db, query.computer);
  const targetsComputer = (id: string) =>
    exists(
      db
        .select({ one: sql`1` })
        .from(jobTargets)
        .where(and(eq(jobTargets.jobId, jobs.id), eq(jobTargets.kind, 'computer'), eq(jobTargets.targetId, id))),
    );
  const rows = await db
    .select({ job: jobs, createdAtKey: exactTimestamp(jobs.createdAt) })
    .from(jobs)
    .where(
      and(
        olderThan(jobs.createdAt, jobs.id, query.cursor),
        query.status ? eq(jobs.status, query.status) : undefined,
        query.type ? eq(jobs.type, query.type) : undefined,
        query.packageId ? eq(jobs.packageId, query.packageId) : undefined,
        computerId ? targetsComputer(computerId) : undefined,
      ),
    )
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => ({ createdAt: row.createdAtKey, id: row.job.id }));
  const counts = await countsByJob(db, page.rows.map((row) => row.job.id));
  return { items: page.rows.map(({ job }) => summaryView(job, counts.get(job.id) ?? {})), nextCursor: page.nextCursor };
}

/** A job a computer was a target of, with how it went on that computer. */
export const computerJobViewSchema = jobSummaryViewSchema.extend({ target: z.strictObject(targetProgress) });

export type ComputerJobView = z.infer<typeof computerJobViewSchema>;

/** A computer's history: the jobs that targeted it (job_targets_target), newest first, with its own state in each. */
export async function listComputerJobs(db: Db, idOrName: string, query: ComputerJobsQuery): Promise<Page<ComputerJobView>> {
  const computerId = await computerIdOf(db, idOrName);
  const rows = await db
    .select({
      job: jobs,
      createdAtKey: exactTimestamp(jobs.createdAt),
      target: {
        state: jobTargets.state,
        detail: jobTargets.detail,
        attempts: jobTargets.attempts,
        choice: jobTargets.choice,
        updatedAt: jobTargets.updatedAt,
      },
    })
    .from(jobTargets)
    .innerJoin(jobs, eq(jobs.id, jobTargets.jobId))
    .where(and(eq(jobTargets.targetId, computerId), eq(jobTargets.kind, 'computer'), olderThan(jobs.createdAt, jobs.id, query.cursor)))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => ({ createdAt: row.createdAtKey, id: row.job.id }));
  const counts = await countsByJob(db, page.rows.map((row) => row.job.id));
  return {
    items: page.rows.map(({ job, target }) => ({
      ...summaryView(job, counts.get(job.id) ?? {}),
      target: { ...target, updatedAt: target.updatedAt.toISOString() },
    })),
    nextCursor: page.nextCursor,
  };
}

/** How many computers joined a dynamic job after its creation (job_targets_joined). */
async function countJoined(db: Db, jobId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(jobTargets)
    .where(and(eq(jobTargets.jobId, jobId), isNotNull(jobTargets.joinedAt)));
  return row?.count ?? 0;
}

/**
 * One job with the requested page of its targets, by name (job_targets_name, or job_targets_state for one
 * state). A job's targets are all of its type's kind, so the kind only narrows the index range.
 */
export async function getJob(db: Db, id: string, query: JobQuery): Promise<JobView> {
  const row = await findJob(db, id);
  const counts = await countTargetStates(db, row.id);
  const after = query.targetsCursor;
  const rows = await db
    .select({
      kind: jobTargets.kind,
      id: jobTargets.targetId,
      name: jobTargets.name,
      state: jobTargets.state,
      attempts: jobTargets.attempts,
      detail: jobTargets.detail,
      choice: jobTargets.choice,
      updatedAt: jobTargets.updatedAt,
      joinedAt: jobTargets.joinedAt,
    })
    .from(jobTargets)
    .where(
      and(
        eq(jobTargets.jobId, row.id),
        eq(jobTargets.kind, targetKindOf(row.type)),
        query.state ? eq(jobTargets.state, query.state) : undefined,
        after ? sql`(${jobTargets.name}, ${jobTargets.targetId}) > (${after.name}, ${after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(asc(jobTargets.name), asc(jobTargets.targetId))
    .limit(query.targetsLimit + 1);
  const page = pageOf(rows, query.targetsLimit, (target) => ({ name: target.name, id: target.id }));
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const rollout = row.rollout && { waves: row.rollout.requested, pauseSeconds: row.rollout.pauseSeconds, failureThreshold: row.rollout.failureThreshold };
  return {
    ...summaryView(row, counts),
    rollout,
    waves: await waveViews(db, row.id, row.rollout),
    joined: row.targetSpec.dynamic ? await countJoined(db, row.id) : null,
    targets: page.rows.map((target) => ({ ...target, updatedAt: target.updatedAt.toISOString(), joinedAt: target.joinedAt?.toISOString() ?? null })),
    targetsTotal: query.state ? (counts[query.state] ?? 0) : total,
    targetsNextCursor: page.nextCursor,
  };
}
