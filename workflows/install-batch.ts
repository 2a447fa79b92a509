/**
 * One page of an install job's computers. Each computer is attempted once in the first pass; those that
 * did not answer, or whose relay is still receiving the package, wait on a durable timer and are tried
 * again in later rounds until the deadline, while the job hands out its next pages. A child of the job's
 * workflow, so the job's own history stays small however many computers it has.
 */
import { ContinueAsNew, continueAsNew, isCancellation, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import type { JobBatchInput } from '../common/workflows.js';
import { agentOrder, boundedByDeadline } from './activity-options.js';
import { attemptRound, type Attempt } from './attempt-round.js';
import { batchActivities, cancelBatch, rangeOf, rememberDispatched, reportToJob } from './batch-rounds.js';
import { retryRoundDelayMs } from './retry-rounds.js';

export async function installBatch(input: JobBatchInput): Promise<void> {
  const { installOnComputer } = proxyActivities<CourierActivities>(boundedByDeadline(agentOrder, input.deadline));
  const attempt: Attempt = (computerId) =>
    installOnComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline });
  await runComputerRounds(input, attempt);
}

/**
 * Rounds over the batch's computers until every one has ended or the deadline has come; then reports
 * `done` to the job. Cancelled, it tells the computers it reached to stop first.
 */
async function runComputerRounds(input: JobBatchInput, attempt: Attempt): Promise<void> {
  const { batchComputers, settleAtDeadline, failTargets } = batchActivities(input);
  rememberDispatched(input);
  const deadlineMs = Date.parse(input.deadline);
  let computerIds: string[] = [];
  let round = input.round ?? 0;
  try {
    computerIds = await batchComputers(input.jobId, rangeOf(input));
    for (;;) {
      const { left, unreachable } = await attemptRound(input, computerIds, attempt, input.dispatched === true);
      if (!input.dispatched) {
        await reportToJob(input, 'dispatched');
        input = { ...input, dispatched: true };
      }
      computerIds = left;
      if (computerIds.length === 0) break;
      const delay = retryRoundDelayMs(round++, Date.now(), deadlineMs, !unreachable);
      if (delay === 0) {
        await settleAtDeadline(input.jobId, computerIds, input.deadline);
        break;
      }
      await sleep(delay);
      // The next run reads the batch's unfinished computers from PostgreSQL again.
      if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof installBatch>({ ...input, round });
    }
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      await cancelBatch(input);
      throw error;
    }
    // Nothing else is expected here: the batch's computers fail with the reason, and the job goes on.
    await failTargets(input.jobId, computerIds, `batch ${input.batch + 1} failed: ${causeMessage(error)}`);
  }
  await reportToJob(input, 'done');
}
