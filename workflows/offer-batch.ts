/**
 * One page of an offer job's computers: offer the package to each, then wait — on a timer and a condition,
 * never polling — for their users' choices until the offer's deadline. Choices arrive as signals here rather
 * than at the job's workflow, so however large the fleet, each history holds at most one page's choices.
 */
import { CancellationScope, condition, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { offerChoiceSignal, type JobBatchInput, type OfferChoiceMessage } from '../common/workflows.js';
import { causeMessage } from '../common/errors.js';
import { agentOrder, databaseWrite } from './activity-options.js';
import { forEachBounded } from './bounded.js';
import { MAX_INSTALLS_PER_BATCH } from './install-batch.js';

const { offerToComputer, installOnComputer } = proxyActivities<CourierActivities>(agentOrder);
const { recordDecline, expireOffers, withdrawOffers, failTargets } = proxyActivities<CourierActivities>(databaseWrite);

export async function offerBatch(input: JobBatchInput): Promise<void> {
  const offered = new Set<string>();
  const decided = new Set<string>();
  const waiting: OfferChoiceMessage[] = [];
  // Registered before the first await, so no choice is dropped while the offers go out.
  setHandler(offerChoiceSignal, (message) => {
    if (decided.has(message.computerId)) return; // the api refuses a second choice; this guards a retried signal
    decided.add(message.computerId);
    waiting.push(message);
  });

  try {
    await forEachBounded(input.computerIds, MAX_INSTALLS_PER_BATCH, async (computerId) => {
      const batchWorkflowId = workflowInfo().workflowId;
      const state = await offerToComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline, batchWorkflowId });
      if (state === 'offered') offered.add(computerId);
    });
    await followChoices(input, offered, decided, waiting);
    await expireOffers(input.jobId, input.computerIds);
  } catch (error) {
    if (isCancellation(error)) {
      await CancellationScope.nonCancellable(() => withdrawOffers(input.jobId, input.packageId, input.computerIds));
    }
    throw error;
  }
}

async function followChoices(input: JobBatchInput, offered: Set<string>, decided: Set<string>, waiting: OfferChoiceMessage[]) {
  const running = new Set<Promise<void>>();
  const everyoneChose = () => [...offered].every((id) => decided.has(id));
  for (;;) {
    const message = waiting.shift();
    if (message) {
      const run = carryOut(input, message).finally(() => running.delete(run));
      running.add(run);
      if (running.size >= MAX_INSTALLS_PER_BATCH) await Promise.race(running);
      continue;
    }
    const timeLeft = Date.parse(input.deadline) - Date.now();
    if (everyoneChose() || timeLeft <= 0) break;
    await condition(() => waiting.length > 0 || everyoneChose(), timeLeft);
  }
  await Promise.all(running);
}

async function carryOut(input: JobBatchInput, { computerId, choice }: OfferChoiceMessage): Promise<void> {
  try {
    if (choice === 'decline') await recordDecline(input.jobId, computerId);
    // The deadline only closes the offer; an install the user chose in time runs to its end.
    else await installOnComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline });
  } catch (error) {
    if (isCancellation(error)) throw error;
    await failTargets(input.jobId, [computerId], `the chosen install could not be carried out: ${causeMessage(error)}`);
  }
}
