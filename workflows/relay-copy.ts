/**
 * One relay's copy of one package, from the transfer that stored it to its expiry: a durable timer that a
 * retransfer moves, and at expiry the relay is told to delete the copy. The delete names the expiry it
 * deletes, so a copy a retransfer stored meanwhile with a later expiry is kept, and the timer starts over
 * for it. A later job that needs the package transfers it again, which starts a new run of this workflow.
 * A retired package's copy is deleted at once, whatever its expiry.
 */
import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { copyStoredSignal, retireCopySignal, type RelayCopyInput } from '../common/workflows.js';
import { agentOrder } from './activity-options.js';

const { expireRelayCopy, retireRelayCopy } = proxyActivities<CourierActivities>({
  ...agentOrder,
  // The relay also drops expired copies by itself, so telling it is worth an hour of retries, not forever.
  scheduleToCloseTimeout: '1 hour',
});

export async function relayCopy(input: RelayCopyInput): Promise<void> {
  let expiresAt = input.expiresAt;
  let retired = false;
  setHandler(copyStoredSignal, (stored) => {
    if (Date.parse(stored.expiresAt) > Date.parse(expiresAt)) expiresAt = stored.expiresAt;
  });
  setHandler(retireCopySignal, () => {
    retired = true;
  });
  for (;;) {
    const current = expiresAt;
    const untilExpiry = Math.max(1, Date.parse(current) - Date.now());
    // Wakes early when a retransfer moved the expiry (the timer starts over from the new date) or the
    // package was retired.
    const woken = await condition(() => expiresAt !== current || retired, untilExpiry);
    if (retired) {
      await retireRelayCopy({ relayId: input.relayId, packageId: input.packageId });
      return;
    }
    if (woken) continue;
    const outcome = await expireRelayCopy({ relayId: input.relayId, packageId: input.packageId, expiresAt: current });
    if (outcome.result === 'kept' && Date.parse(outcome.expiresAt) > Date.parse(expiresAt)) expiresAt = outcome.expiresAt;
    // A retransfer during the delete moved the expiry (by signal or on record): the copy lives on.
    if (expiresAt === current) return;
  }
}
