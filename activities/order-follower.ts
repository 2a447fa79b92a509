/**
 * Follows one order on one agent to its end: sends it, then repeats it (a repeat is a status query) until
 * the agent reports a final state, heartbeating all along so Temporal notices a dead worker quickly and
 * delivers cancellation.
 */
import { Context } from '@temporalio/activity';
import { finalOrderStates, type Order, type OrderStatus } from '../common/orders.js';
import type { ActivityDependencies } from './dependencies.js';

export async function followOrder(
  deps: ActivityDependencies,
  agentUrl: string,
  /** Builds the order afresh for each request, so every request carries a current `issuedAt`. */
  order: () => Order,
  onProgress?: (status: OrderStatus) => Promise<void>,
): Promise<OrderStatus> {
  const context = Context.current();
  for (;;) {
    const status = await deps.agents.send(agentUrl, order());
    context.heartbeat(status);
    if (finalOrderStates.has(status.state)) return status;
    await onProgress?.(status);
    await context.sleep(deps.agentPollMs);
  }
}
