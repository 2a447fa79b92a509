/**
 * One round over a batch's computers: each is attempted once, a bounded number at once. A computer whose
 * relay is still receiving the package is parked instead of holding a lane, and goes back in line as soon
 * as its relay holds the package (one cheap check for all parked computers, on a short timer), so it waits
 * for its own relay and for nothing else. The round ends when nobody is in line and no attempt is under
 * way; computers still parked or unreachable are left for the next round.
 */
import { condition, isCancellation } from '@temporalio/workflow';
import type { AttemptOutcome } from '../activities/index.js';
import { causeMessage } from '../common/errors.js';
import type { JobBatchInput } from '../common/workflows.js';
import { batchActivities } from './batch-rounds.js';

/** Attempts running at once in one batch; with the job's window of dispatching batches this bounds a job's load. */
export const MAX_ATTEMPTS_PER_BATCH = 50;
/** How often parked computers' relays are checked: from 1 s, doubling, to this. */
const MAX_RELAY_CHECK_MS = 8_000;

/** One attempt at one computer: the order it is to get, sent and followed. */
export type Attempt = (computerId: string) => Promise<AttemptOutcome>;

/** The computers a round could not finish, and whether any of them did not answer (not just waits for a relay). */
export interface RoundLeftovers {
  left: string[];
  unreachable: boolean;
}

/**
 * Attempts `computerIds`. With `recheckWaiting`, computers that were waiting for their relay in an earlier
 * round are first checked all at once, so a dead relay costs one activity per round, not one per computer.
 * A computer whose attempt fails unexpectedly (after its bounded retries) fails with the reason rather than
 * stopping the others.
 */
export async function attemptRound(
  input: JobBatchInput,
  computerIds: readonly string[],
  attempt: Attempt,
  recheckWaiting = false,
): Promise<RoundLeftovers> {
  const { failTargets, stillWaitingForRelay } = batchActivities(input);
  const parked = recheckWaiting ? new Set(await stillWaitingForRelay(input.jobId, [...computerIds])) : new Set<string>();
  const queue = computerIds.filter((id) => !parked.has(id));
  const left: string[] = [];
  let unreachable = false;
  let busy = 0;
  const over = () => queue.length === 0 && busy === 0;
  // Set by the first lane to find the round over: from then on no lane runs, so nothing may be put back in line.
  let lanesStopped = false;

  const lane = async (): Promise<void> => {
    for (;;) {
      await condition(() => queue.length > 0 || over());
      const computerId = queue.shift();
      if (computerId === undefined) {
        lanesStopped = true;
        return;
      }
      busy++;
      try {
        const outcome = await attempt(computerId);
        if (outcome === 'waiting_for_relay') parked.add(computerId);
        if (outcome === 'retry') {
          left.push(computerId);
          unreachable = true;
        }
      } catch (error) {
        if (isCancellation(error)) throw error;
        await failTargets(input.jobId, [computerId], `the order could not be carried out: ${causeMessage(error)}`);
      } finally {
        busy--;
      }
    }
  };
  const watchParked = async (): Promise<void> => {
    for (let check = 0; ; check++) {
      const roundOver = () => lanesStopped || over();
      await condition(() => parked.size > 0 || roundOver());
      if (roundOver() || (await condition(roundOver, Math.min(1000 * 2 ** check, MAX_RELAY_CHECK_MS)))) return;
      const stillWaiting = new Set(await stillWaitingForRelay(input.jobId, [...parked]));
      for (const computerId of [...parked]) {
        if (stillWaiting.has(computerId)) continue;
        parked.delete(computerId);
        queue.push(computerId);
      }
    }
  };

  const lanes = Array.from({ length: Math.min(MAX_ATTEMPTS_PER_BATCH, queue.length) }, lane);
  await Promise.all([...lanes, watchParked()]);
  // A check that ended with the round may have put computers back in line after the lanes stopped.
  left.push(...parked, ...queue);
  return { left: left.sort(), unreachable };
}
