/**
 * Continuing as new without losing a cancellation. A cancel request that reaches a workflow in the task in
 * which it decides to continue as new is recorded on the run that is ending, and the next run never hears
 * of it: the job would go on as if nobody had cancelled it. A cancelled workflow throws the cancellation
 * instead, and handles it as it handles any other.
 */
import { CancellationScope, CancelledFailure, continueAsNew, type Workflow } from '@temporalio/workflow';

export function continueAsNewUnlessCancelled<F extends Workflow>(...args: Parameters<F>): Promise<never> {
  if (CancellationScope.current().consideredCancelled) {
    return Promise.reject(new CancelledFailure('cancelled while about to continue as new'));
  }
  return continueAsNew<F>(...args);
}
