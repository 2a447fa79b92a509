/**
 * Workflow types, their inputs and their messages: imported by the api (to start and signal), the worker
 * (to register) and the workflows themselves, so a name is spelled once.
 */
import { defineSignal } from '@temporalio/workflow';
import type { JobType, OfferChoice } from './states.js';

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
  /** Set when the workflow continued as new: where the previous run stopped handing out batches. */
  resume?: { afterTargetId: string; nextBatch: number };
}

/** One page of a job's computer targets, handled by a child workflow. */
export interface JobBatchInput {
  jobId: string;
  packageId: string;
  deadline: string;
  computerIds: string[];
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

export type { OfferChoice } from './states.js';

/** A user's choice on an offer, signalled to the batch workflow that owns the computer's offer. */
export interface OfferChoiceMessage {
  computerId: string;
  choice: OfferChoice;
}

/** Carries an OfferChoiceMessage; the api has already checked and recorded the choice, so no answer is awaited. */
export const offerChoiceSignal = defineSignal<[OfferChoiceMessage]>('offerChoice');
