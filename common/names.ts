/** The one place for every Temporal name Courier uses: task queue, workflow IDs and search attributes. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Default task queue; a deployment (or a test) may pick another through COURIER_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'courier';

/** The workflow ID of a job's main workflow: one per job, so a job cannot run twice. */
export function jobWorkflowId(jobId: string): string {
  return `job-${jobId}`;
}

/** A batch of one job's computer targets, run as a child so no single history grows with the fleet. */
export function jobBatchWorkflowId(jobId: string, batch: number): string {
  return `job-${jobId}-batch-${batch}`;
}

/**
 * Stages a job's package on the relays its computers download from, beside the job's batches; a dynamic
 * job stages again for the joiners of batch `joinedBatch` that are behind relays it had not listed.
 */
export function jobRelaysWorkflowId(jobId: string, joinedBatch?: number): string {
  return joinedBatch === undefined ? `job-${jobId}-relays` : `job-${jobId}-relays-${joinedBatch}`;
}

/** The workflow ID owning one relay's copy of one package (its expiry timer). */
export function relayCopyWorkflowId(relayId: string, packageId: string): string {
  return `relay-${relayId}-package-${packageId}`;
}

/**
 * Custom search attributes operators filter by in the Temporal UI. Registered with the dev server at start
 * (`--search-attribute NAME=Keyword`) and in production by `temporal operator search-attribute create`.
 */
export const searchAttributes = {
  jobId: defineSearchAttributeKey('CourierJobId', SearchAttributeType.KEYWORD),
  jobType: defineSearchAttributeKey('CourierJobType', SearchAttributeType.KEYWORD),
  packageId: defineSearchAttributeKey('CourierPackage', SearchAttributeType.KEYWORD),
} as const;
