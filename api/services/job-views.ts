/**
 * What admins see of jobs: the row, target counts by state and progress (from one GROUP BY), and for a
 * single job a page of its targets. The workflows write the states; this module only reads them.
 */
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { jobProgress, type TargetKind, type TargetState } from '../../common/states.js';
import type { OfferChoice } from '../../common/workflows.js';
import { countTargetStates } from '../../db/repositories/job-targets.js';
import { jobs, jobTargets } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import { isUuid, type JobQuery } from '../validation.js';

type Db = AppDependencies['db'];
type JobRow = typeof jobs.$inferSelect;
type Counts = Partial<Record<TargetState, number>>;

/** A job as listed: everything but its targets. */
export interface JobSummaryView {
  id: string;
  type: JobRow['type'];
  packageId: string;
  status: JobRow['status'];
  scheduledAt: string;
  deadline: string;
  workflowId: string;
  detail: string | null;
  rerunOf: string | null;
  /** The job's own download bounds; null: the managing server's defaults. */
  downloadsPerRelay: number | null;
  serverDownloads: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Percentage (0–100) of targets in a final state. */
  progress: number;
  counts: Counts;
}

/** One target of a job and where it stands. */
export interface TargetView {
  kind: TargetKind;
  id: string;
  name: string;
  state: TargetState;
  attempts: number;
  detail: string | null;
  /** Offer jobs: the user's choice once the api has accepted it; null otherwise. */
  choice: OfferChoice | null;
  updatedAt: string;
}

/** One job with a page of its targets; `targetsTotal` counts the targets matching the state filter. */
export interface JobView extends JobSummaryView {
  targets: TargetView[];
  targetsTotal: number;
}

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
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    progress: jobProgress(counts),
    counts,
  };
}

/** Jobs, newest first, without their targets. */
export async function listJobs(db: Db, page: { limit: number; offset: number }): Promise<JobSummaryView[]> {
  const rows = await db
    .select()
    .from(jobs)
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(page.limit)
    .offset(page.offset);
  const counts = await countsByJob(db, rows.map((row) => row.id));
  return rows.map((row) => summaryView(row, counts.get(row.id) ?? {}));
}

/** One job with the requested page of targets (by kind, then name). */
export async function getJob(db: Db, id: string, query: JobQuery): Promise<JobView> {
  const row = await findJob(db, id);
  const counts = await countTargetStates(db, row.id);
  const targets = await db
    .select({
      kind: jobTargets.kind,
      id: jobTargets.targetId,
      name: jobTargets.name,
      state: jobTargets.state,
      attempts: jobTargets.attempts,
      detail: jobTargets.detail,
      choice: jobTargets.choice,
      updatedAt: jobTargets.updatedAt,
    })
    .from(jobTargets)
    .where(and(eq(jobTargets.jobId, row.id), query.state ? eq(jobTargets.state, query.state) : undefined))
    .orderBy(asc(jobTargets.kind), asc(jobTargets.name), asc(jobTargets.targetId))
    .limit(query.targetsLimit)
    .offset(query.targetsOffset);
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  return {
    ...summaryView(row, counts),
    targets: targets.map((target) => ({ ...target, updatedAt: target.updatedAt.toISOString() })),
    targetsTotal: query.state ? (counts[query.state] ?? 0) : total,
  };
}
