/**
 * Workflow types, their inputs and their messages: imported by the api (to start and signal), the worker
 * (to register) and the workflows themselves, so a name is spelled once.
 */
import { defineSignal } from '@temporalio/workflow';
import type { RolloutPlan } from './rollout.js';
import type { MaintenanceWindow } from './windows.js';
import type { JobType } from './states.js';

/** Workflow type name of each job type's workflow (the exported function's name in workflows/). */
export const jobWorkflowTypes = {
  install: 'installJob',
  transfer: 'transferJob',
  offer: 'offerJob',
} as const satisfies Record<JobType, string>;

/** Workflow type owning one relay's copy of one package: its expiry timer and its deletion. */
export const relayCopyWorkflowType = 'relayCopy';

/** Everything a job workflow needs; the targets themselves live in Postgres (a job may have 100,000). */
export interface JobWorkflowInput {
  jobId: string;
  packageId: string;
  /** ISO date-time the job waits for before it does anything. */
  scheduledAt: string;
  /** ISO date-time after which unreachable targets stop being retried. */
  deadline: string;
  /** Install and offer jobs: hand the computers out in these waves (common/rollout.ts). */
  rollout?: RolloutPlan;
  /** Install and offer jobs: computers get their orders only inside this window (common/windows.ts). */
  window?: MaintenanceWindow;
  /** Install jobs with a window: computers download before it opens, and install once it does. */
  downloadOutsideWindow?: boolean;
  /** Install and offer jobs targeting labels: computers that gain them later join the job until its deadline. */
  dynamic?: boolean;
  /** Set when the workflow continued as new: how far the previous run had come. */
  resume?: JobCursor;
}

/**
 * Where a job's fan-out stands, carried across continue-as-new: a cursor into the job's targets and the
 * batches still running — numbers, never target lists, so it stays small at any fleet size.
 */
export interface JobCursor {
  /** Last target handed to a batch (computers) or staged (transfer jobs); absent before the first. */
  afterTargetId?: string;
  /** Number the next batch gets. */
  nextBatch: number;
  /** Every target has been handed to a batch. */
  handedOut: boolean;
  /** Batches still working on their first pass over their computers. */
  dispatching: number[];
  /** Batches that have not ended yet (including those still dispatching). */
  open: number[];
  /** Transfer jobs: how many retry rounds over unreachable relays have run. */
  round?: number;
  /** Rollouts: the wave being handed out (0 first). */
  wave?: number;
  /** Dynamic jobs: the batches of joiners whose relays are being staged by a workflow of their own. */
  joinedStagings?: number[];
  /** Batches that may be in their first pass at once, from the job's download slots (workflows/batches.ts). */
  firstPassBatches?: number;
}

/**
 * A page of the targets a job was created with: those after `afterTargetId` up to and including
 * `throughTargetId`, in id order.
 */
export interface IdRange {
  afterTargetId?: string;
  throughTargetId: string;
}

/**
 * Computers that joined a dynamic job after its creation, claimed by batch `joinedBatch` as they came
 * (activities/joiners.ts): their ids fall anywhere among the others', so they are owned by number.
 */
export interface JoinedRange {
  joinedBatch: number;
}

/** The targets one batch owns. */
export type TargetRange = IdRange | JoinedRange;

/**
 * One page of a job's computer targets, handled by a child workflow. The batch reads its own page, so no
 * id list travels in a history.
 */
export type JobBatchInput = TargetRange & {
  jobId: string;
  packageId: string;
  deadline: string;
  batch: number;
  /** The job's maintenance window, if it has one. */
  window?: MaintenanceWindow;
  /** With a window: computers download before it opens (see JobWorkflowInput). */
  downloadOutsideWindow?: boolean;
  /** Set when the batch continued as new: its first pass is over and its parent knows. */
  dispatched?: boolean;
  /** Carried across continue-as-new: where the batch stands against its deadline. */
  phase?: BatchPhase;
};

/**
 * Where a batch of computers stands against its job's deadline: `running` sends what is due; `last_call`
 * (at the deadline) sends every computer still without its order one last time; `draining` (after it)
 * sends nothing new and only waits for, and asks after, orders the computers hold.
 */
export type BatchPhase = 'running' | 'last_call' | 'draining';

/** Stages an install or offer job's package on every relay that serves one of its computers. */
export interface RelayStagingInput {
  jobId: string;
  packageId: string;
  deadline: string;
  /** Carried across continue-as-new. */
  afterRelayId?: string;
  round?: number;
}

/** Identifies one relay copy; its workflow ID comes from relayCopyWorkflowId(relayId, packageId). */
export interface RelayCopyInput {
  relayId: string;
  packageId: string;
  /** ISO date-time the relay keeps the copy until. */
  expiresAt: string;
}

/**
 * Sent (with signal-with-start) whenever a transfer stores the package on the relay: the copy's timer moves
 * to the expiry that transfer gave it.
 */
export const copyStoredSignal = defineSignal<[{ expiresAt: string; jobId: string }]>('copyStored');

/** The copy's package was retired (DELETE /packages/:id): the relay deletes its copy now, whatever its expiry. */
export const retireCopySignal = defineSignal('retireCopy');

export type { OfferChoice } from './states.js';

/** Signalled to a paused rollout's job workflow by POST /jobs/:id/resume: hand out the next wave. */
export const resumeJobSignal = defineSignal('resumeJob');

/**
 * Tells a dynamic job that computers have joined it (the api added them as they gained its labels): it
 * hands them out soon rather than at its next sweep. A signal that goes astray only delays them.
 */
export const targetsJoinedSignal = defineSignal('targetsJoined');

/**
 * Tells a batch of computers to look at them now rather than at its next check: the api sends it when the
 * batch's last working computer has reported its outcome, and when a user chose on one of its offers. What
 * happened is in PostgreSQL; a nudge that goes astray only delays the batch until its next check.
 */
export const batchNudgeSignal = defineSignal('batchNudge');

/**
 * A batch tells its job how far it has come: `dispatched` once every computer of its page has had its first
 * attempt (the job may then start the next batch), `done` once every computer has ended. A signal, since
 * batches outlive the job's runs across continue-as-new and the job must hear them whatever run is current.
 */
export interface BatchReport {
  batch: number;
  phase: 'dispatched' | 'done';
}

export const batchReportSignal = defineSignal<[BatchReport]>('batchReport');

/** Memo key a batch sets once its first pass is over, so its job can read it back (activities/batch-status.ts). */
export const BATCH_DISPATCHED_MEMO = 'dispatched';
