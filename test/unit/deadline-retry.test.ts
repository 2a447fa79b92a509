/** The retry delays an unreachable agent gets: exponential, capped, and never past the job's deadline. */
import { describe, expect, it } from 'vitest';
import { nextRetryDelayMs } from '../../activities/deadline-retry.js';

const now = new Date('2026-01-01T00:00:00Z');
const farDeadline = new Date('2026-01-02T00:00:00Z');

describe('nextRetryDelayMs', () => {
  it('doubles from one second and stops growing at thirty', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => nextRetryDelayMs(attempt, now, farDeadline))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it('shortens the last wait so the final attempt falls on the deadline', () => {
    expect(nextRetryDelayMs(6, now, new Date(now.getTime() + 7000))).toBe(7000);
  });

  it('retries at once when the deadline has come', () => {
    expect(nextRetryDelayMs(3, now, now)).toBe(0);
    expect(nextRetryDelayMs(3, now, new Date(now.getTime() - 5000))).toBe(0);
  });
});
