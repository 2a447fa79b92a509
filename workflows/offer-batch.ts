/**
 * One page of an offer job's computers: offer the package to each, then wait — on timers and conditions,
 * never polling — for their users' choices until the offer's deadline, carrying each out as it arrives.
 * Computers that did not answer are offered again in later rounds. Choices arrive as signals here rather
 * than at the job's workflow, so however large the fleet, each history holds at most one page's choices.
 */
import {
  ContinueAsNew,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import type { JobBatchInput, OfferChoiceMessage } from '../common/workflows.js';
import { agentOrder, boundedByDeadline } from './activity-options.js';
import { attemptRound, type Attempt } from './attempt-round.js';
import { batchActivities, cancelBatch, rangeOf, rememberDispatched, reportToJob } from './batch-rounds.js';
import { ChoiceFollower } from './choice-follower.js';
import { retryRoundDelayMs } from './retry-rounds.js';

export async function offerBatch(input: JobBatchInput): Promise<void> {
  const choices = new ChoiceFollower((message) => carryOut(input, message));
  const { batchComputers, recordedChoices, undecidedOffers, closeOffers, settleAtDeadline, failTargets } =
    batchActivities(input);
  const { offerToComputer } = proxyActivities<CourierActivities>(boundedByDeadline(agentOrder, input.deadline));
  const batchWorkflowId = workflowInfo().workflowId;
  const offer: Attempt = (computerId) =>
    offerToComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline, batchWorkflowId });
  const deadlineMs = Date.parse(input.deadline);
  rememberDispatched(input);

  let toOffer: string[] = [];
  let round = input.round ?? 0;
  try {
    // A run that continued as new offers only to those not offered yet.
    toOffer = await batchComputers(input.jobId, rangeOf(input), input.dispatched === true);
    choices.add(await recordedChoices(input.jobId, rangeOf(input)));
    const offerUntilClosed = async (): Promise<void> => {
      for (;;) {
        let unreachable = false;
        if (toOffer.length > 0) ({ left: toOffer, unreachable } = await attemptRound(input, toOffer, offer, input.dispatched === true));
        if (!input.dispatched) {
          await reportToJob(input, 'dispatched');
          input = { ...input, dispatched: true };
        }
        const timeLeft = deadlineMs - Date.now();
        if (timeLeft <= 0) break;
        // Everyone reached has chosen and every choice has been carried out: no need to wait for the deadline.
        if (toOffer.length === 0 && choices.idle() && (await undecidedOffers(input.jobId, rangeOf(input))) === 0) break;
        const wait = toOffer.length > 0 ? retryRoundDelayMs(round++, Date.now(), deadlineMs, !unreachable) : timeLeft;
        const carriedOut = choices.carriedOut;
        await condition(() => workflowInfo().continueAsNewSuggested || (choices.idle() && choices.carriedOut !== carriedOut), wait);
        if (workflowInfo().continueAsNewSuggested) {
          // Choices under way finish first; the next run reads the rest back from PostgreSQL.
          await choices.pause();
          await continueAsNew<typeof offerBatch>({ ...input, round });
        }
      }
      if (toOffer.length > 0) await settleAtDeadline(input.jobId, toOffer, input.deadline);
      // Offers nobody chose expire; choices recorded in time whose signal has not come yet are carried out.
      choices.add(await closeOffers(input.jobId, rangeOf(input)));
      choices.close();
    };
    // Together, so that a cancellation or a continue-as-new reaching one of them settles both.
    await Promise.all([choices.follow(), offerUntilClosed()]);
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      await cancelBatch(input);
      throw error;
    }
    await failTargets(input.jobId, await batchComputers(input.jobId, rangeOf(input)), `batch ${input.batch + 1} failed: ${causeMessage(error)}`);
  }
  await reportToJob(input, 'done');
}

/**
 * A user's choice: a decline is recorded; an install goes the way of an install job's, and a computer
 * that cannot be reached just now is tried again until the deadline. The deadline only closes the offer;
 * an install the user chose in time runs to its end.
 */
async function carryOut(input: JobBatchInput, { computerId, choice }: OfferChoiceMessage): Promise<void> {
  const { recordDecline, failTargets, settleAtDeadline } = batchActivities(input);
  const { installOnComputer } = proxyActivities<CourierActivities>(boundedByDeadline(agentOrder, input.deadline));
  try {
    if (choice === 'decline') {
      await recordDecline(input.jobId, computerId);
      return;
    }
    for (let round = 0; ; round++) {
      const outcome = await installOnComputer({ jobId: input.jobId, computerId, packageId: input.packageId, deadline: input.deadline });
      if (outcome === 'ended') return;
      const delay = retryRoundDelayMs(round, Date.now(), Date.parse(input.deadline), outcome === 'waiting_for_relay');
      if (delay === 0) {
        await settleAtDeadline(input.jobId, [computerId], input.deadline);
        return;
      }
      await sleep(delay);
    }
  } catch (error) {
    if (isCancellation(error)) throw error;
    await failTargets(input.jobId, [computerId], `the chosen install could not be carried out: ${causeMessage(error)}`);
  }
}
