/** How long orders and download tickets stay valid, and how long a job's activities may be retried. */
import { describe, expect, it } from 'vitest';
import { ORDER_GRACE_MS, orderValidUntil } from '../../activities/install-orders.js';
import { agentOrder, boundedByDeadline, DEADLINE_GRACE_MS } from '../../workflows/activity-options.js';

const deadline = new Date('2026-06-01T12:00:00Z');

describe('orderValidUntil', () => {
  it('keeps an order issued before the deadline valid until an hour past it', () => {
    expect(orderValidUntil(new Date('2026-06-01T08:00:00Z'), deadline).getTime()).toBe(deadline.getTime() + ORDER_GRACE_MS);
  });

  it('counts from the moment of issue for an order sent after the deadline (a choice carried out late)', () => {
    const late = new Date('2026-06-01T13:30:00Z');
    expect(orderValidUntil(late, deadline).getTime()).toBe(late.getTime() + ORDER_GRACE_MS);
  });
});

describe('boundedByDeadline', () => {
  it('bounds every retry of an activity by the deadline plus the grace', () => {
    const inTwoHours = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const options = boundedByDeadline(agentOrder, inTwoHours);
    const window = options.scheduleToCloseTimeout as number;
    expect(window).toBeGreaterThan(2 * 3_600_000 + DEADLINE_GRACE_MS - 5000);
    expect(window).toBeLessThanOrEqual(2 * 3_600_000 + DEADLINE_GRACE_MS);
    expect(options.heartbeatTimeout).toBe(agentOrder.heartbeatTimeout);
  });

  it('still leaves a short window to record the outcome when the deadline is long past', () => {
    const longAgo = new Date(Date.now() - 24 * 3_600_000).toISOString();
    expect(boundedByDeadline(agentOrder, longAgo).scheduleToCloseTimeout).toBe(30_000);
  });
});
