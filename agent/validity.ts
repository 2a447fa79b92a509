/**
 * An order's validity (`validUntil`): the job stops wanting it carried out then. The agent core refuses a
 * new order received later; the roles end unfinished work whose irreversible step has not begun, so an
 * agent that was switched off for a week does not carry out what the job has long given up on.
 */
import type { Order } from '../common/orders.js';
import type { StatusUpdate } from './orders-book.js';

/** Whether the order's validity has passed at `now`. */
export function hasExpired(order: Order, now: Date): boolean {
  return Date.parse(order.validUntil) <= now.getTime();
}

/** The final status of an order whose validity passed before its irreversible step began. */
export function expiredUpdate(order: Order): StatusUpdate {
  return { state: 'expired', detail: `the order expired at ${order.validUntil} before it could be carried out` };
}
