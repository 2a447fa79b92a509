/**
 * Where a job's batches stand, read from Temporal itself. The job hears of its batches by signal, but a
 * signal that lands while the job continues as new can miss the run that carries the job's state on (see
 * workflows/batches.ts), so the job checks its bookkeeping against this from time to time.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { jobBatchWorkflowId } from '../common/names.js';
import { BATCH_DISPATCHED_MEMO } from '../common/workflows.js';
import type { ActivityDependencies } from './dependencies.js';

/** Batches among those asked about that are still running, and those of them still in their first pass. */
export interface BatchStates {
  open: number[];
  dispatching: number[];
}

export function createBatchStatusActivities({ temporal }: Pick<ActivityDependencies, 'temporal'>) {
  return {
    async batchStates(jobId: string, batches: number[]): Promise<BatchStates> {
      const states: BatchStates = { open: [], dispatching: [] };
      for (const batch of batches) {
        try {
          const description = await temporal.workflow.getHandle(jobBatchWorkflowId(jobId, batch)).describe();
          if (description.status.name !== 'RUNNING') continue;
          states.open.push(batch);
          if (description.memo?.[BATCH_DISPATCHED_MEMO] !== true) states.dispatching.push(batch);
        } catch (error) {
          // A batch that never started (its start was lost with a run that continued as new) is not open.
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
      return states;
    },
  };
}
