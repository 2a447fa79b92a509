/** The pauses between retry rounds: exponential, capped, shorter for relay waits, never past the deadline. */
import { describe, expect, it } from 'vitest';
import { retryRoundDelayMs } from '../../common/retry-rounds.js';

const now = Date.parse('2026-01-01T00:00:00Z');
const farDeadline = Date.parse('2026-01-02T00:00:00Z');

describe('retryRoundDelayMs', () => {
  it('doubles from two seconds and stops growing at five minutes', () => {
    expect([0, 1, 2, 3, 7, 8, 9, 50].map((round) => retryRoundDelayMs(round, now, farDeadline))).toEqual([
      2000, 4000, 8000, 16000, 256000, 300000, 300000, 300000,
    ]);
  });

  it('checks again within ten seconds when computers only wait for their relay', () => {
    expect(retryRoundDelayMs(9, now, farDeadline, true)).toBe(10_000);
  });

  it('shortens the last wait so the final attempt falls on the deadline', () => {
    expect(retryRoundDelayMs(9, now, now + 7000)).toBe(7000);
  });

  it('answers 0 once the deadline has come', () => {
    expect(retryRoundDelayMs(3, now, now)).toBe(0);
    expect(retryRoundDelayMs(3, now, now - 5000)).toBe(0);
  });
});
