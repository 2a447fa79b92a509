import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { JobStatus, JobType, TargetKind, TargetState } from '../../common/states.js';
import type { Labels } from '../../common/labels.js';
import type { RolloutPlan } from '../../common/rollout.js';
import type { MaintenanceWindow } from '../../common/windows.js';
import type { OfferChoice } from '../../common/workflows.js';
import { packages } from './packages.js';

/** What the admin asked for, kept so a rerun or an audit can see it. */
export interface TargetSpec {
  computers?: string[];
  relays?: string[];
  /** Computers carrying every one of these labels. */
  labels?: Labels;
  /** With labels: computers that gain them after the job was created join it until its deadline. */
  dynamic?: boolean;
  all?: boolean;
}

/** Distribution orders; their per-target results live in job_targets. */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    type: text('type').$type<JobType>().notNull(),
    packageId: uuid('package_id')
      .notNull()
      .references(() => packages.id),
    status: text('status').$type<JobStatus>().notNull().default('scheduled'),
    targetSpec: jsonb('target_spec').$type<TargetSpec>().notNull(),
    scheduledAt: timestamp('scheduled_at', { withTimezone: true }).notNull(),
    deadline: timestamp('deadline', { withTimezone: true }).notNull(),
    workflowId: text('workflow_id').notNull(),
    /** Why the job failed as a whole (not per target). */
    detail: text('detail'),
    rerunOf: uuid('rerun_of'),
    /** The job's own download bounds (common/throughput.ts); null takes the worker's defaults. */
    downloadsPerRelay: integer('downloads_per_relay'),
    serverDownloads: integer('server_downloads'),
    /** Install jobs: run the command even on computers where another job installed the package. */
    reinstall: boolean('reinstall').notNull().default(false),
    /** Install and offer jobs handed out in waves; null hands every computer out at once. */
    rollout: jsonb('rollout').$type<RolloutPlan>(),
    /** Install and offer jobs: when computers may install; null is any time. */
    window: jsonb('window').$type<MaintenanceWindow>(),
    /** The named window the job's window was copied from, if the admin named one. */
    windowName: text('window_name'),
    /** Install jobs with a window: computers download before it opens and install once it does. */
    downloadOutsideWindow: boolean('download_outside_window').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When Temporal accepted the job's workflow; null means the api died before it could hand the job over. */
    launchedAt: timestamp('launched_at', { withTimezone: true }),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (table) => [
    index('jobs_created').on(table.createdAt),
    index('jobs_unlaunched').on(table.createdAt).where(sql`launched_at is null`),
    // The dynamic jobs a computer may join when it gains labels: looked up at every enrolment.
    index('jobs_dynamic').on(table.deadline).where(sql`target_spec->>'dynamic' = 'true' and finished_at is null`),
  ],
);

/** One row per job and target: the state admins see, written idempotently by activities. */
export const jobTargets = pgTable(
  'job_targets',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<TargetKind>().notNull(),
    targetId: uuid('target_id').notNull(),
    name: text('name').notNull(),
    state: text('state').$type<TargetState>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    detail: text('detail'),
    /** Offer jobs: the user's choice, recorded once by the api before it signals the workflow. */
    choice: text('choice').$type<OfferChoice>(),
    /** The batch workflow that sent this computer its order: the api nudges it when its computers report. */
    batchWorkflowId: text('batch_workflow_id'),
    /** The relay the computer's install order sent it to download from; null for the managing server. */
    relayId: uuid('relay_id'),
    /** When the computer last told us of its order (its answer to the order, or a report). */
    lastReportAt: timestamp('last_report_at', { withTimezone: true }),
    /** The earliest time the batch contacts the computer again (after it could not be reached). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    /** Dynamic jobs: when the computer joined, having gained the job's labels after its creation. */
    joinedAt: timestamp('joined_at', { withTimezone: true }),
    /** The batch that claimed the joined computer (see JoinedRange); null until one does. */
    joinedBatch: integer('joined_batch'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.jobId, table.kind, table.targetId] }),
    // Targets by state; with name and id, also GET /jobs/:id's keyset pages of the targets in one state.
    index('job_targets_state').on(table.jobId, table.kind, table.state, table.name, table.targetId),
    // GET /jobs/:id's keyset pages of all targets, by name: without it each page sorts the whole job.
    index('job_targets_name').on(table.jobId, table.kind, table.name, table.targetId),
    // Download slots in use: the computers of a job downloading from one relay.
    index('job_targets_downloading').on(table.jobId, table.relayId).where(sql`state = 'downloading'`),
    // Whether a batch still has computers at work: asked by the api at every final report.
    index('job_targets_working').on(table.jobId, table.batchWorkflowId).where(sql`state in ('downloading', 'installing')`),
    // A computer's or relay's jobs: GET /computers/:id/jobs and GET /jobs?computer=. With the job last it
    // holds the whole key too, so a lookup by key finds one entry whichever index the planner takes.
    index('job_targets_target').on(table.targetId, table.kind, table.jobId),
    // A dynamic job's joined computers: those no batch has claimed yet, and each batch's own.
    index('job_targets_joined').on(table.jobId, table.joinedBatch).where(sql`joined_at is not null`),
  ],
);

/**
 * The relays an install or offer job stages its package on (and, for transfer jobs, its relay targets):
 * each relay's staging state for this job, so that a computer behind it knows whether to download now,
 * wait, or fail with the relay's reason.
 */
export const jobRelays = pgTable(
  'job_relays',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    relayId: uuid('relay_id').notNull(),
    /** `pending` and `transferring` while staging; `stored`, `already_stored` or `failed` once done. */
    state: text('state').$type<'pending' | 'transferring' | 'stored' | 'already_stored' | 'failed'>().notNull().default('pending'),
    detail: text('detail'),
    attempts: integer('attempts').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.jobId, table.relayId] }), index('job_relays_state').on(table.jobId, table.state)],
);
