/**
 * One relay's copy of one package, from the transfer that stored it to its expiry: a durable timer that a
 * retransfer moves, and at expiry the relay is told to delete the copy. A later job that needs the package
 * transfers it again, which starts a new run of this workflow.
 */
import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { copyStoredSignal, type RelayCopyInput } from '../common/workflows.js';
import { agentOrder } from './activity-options.js';

const { expireRelayCopy } = proxyActivities<CourierActivities>({
  ...agentOrder,
  // The relay also drops expired copies by itself, so telling it is worth an hour of retries, not forever.
  scheduleToCloseTimeout: '1 hour',
});

export async function relayCopy(input: RelayCopyInput): Promise<void> {
  let expiresAt = input.expiresAt;
  setHandler(copyStoredSignal, (stored) => {
    expiresAt = stored.expiresAt;
  });
  for (;;) {
    const current = expiresAt;
    const untilExpiry = Math.max(1, Date.parse(current) - Date.now());
    // Wakes early only when a retransfer moved the expiry; then the timer starts over from the new date.
    const moved = await condition(() => expiresAt !== current, untilExpiry);
    if (!moved) break;
  }
  await expireRelayCopy({ relayId: input.relayId, packageId: input.packageId, expiresAt });
}
