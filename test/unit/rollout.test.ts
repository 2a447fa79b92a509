/** Rollout waves resolved against a job's computers, and the failure threshold. */
import { describe, expect, it } from 'vitest';
import { crossesThreshold, rolloutSchema, waveEnds } from '../../common/rollout.js';

describe('waveEnds', () => {
  it('reads counts and percentages as cumulative ends, the last wave taking every computer left', () => {
    expect(waveEnds([10, '10%', '100%'], 1000)).toEqual([10, 100, 1000]);
    expect(waveEnds([2, 4], 6)).toEqual([2, 4, 6]);
    expect(waveEnds(['50%'], 3)).toEqual([2, 3]);
  });

  it('leaves out waves that add no computer and caps ends at the job', () => {
    expect(waveEnds([10, '10%', '100%'], 50)).toEqual([10, 50]);
    expect(waveEnds([5, 5, 3, 100], 8)).toEqual([5, 8]);
    expect(waveEnds(['100%'], 7)).toEqual([7]);
  });
});

describe('crossesThreshold', () => {
  it('pauses strictly above the threshold, on the first failure at 0, never without one', () => {
    expect(crossesThreshold(1, 10, 0.1)).toBe(false);
    expect(crossesThreshold(2, 10, 0.1)).toBe(true);
    expect(crossesThreshold(1, 10, 0)).toBe(true);
    expect(crossesThreshold(0, 10, 0)).toBe(false);
    expect(crossesThreshold(10, 10, undefined)).toBe(false);
  });
});

describe('rolloutSchema', () => {
  it('accepts counts and percentages, and refuses what is neither', () => {
    expect(rolloutSchema.safeParse({ waves: [10, '10%', '100%'], pauseSeconds: 60, failureThreshold: 0.2 }).success).toBe(true);
    for (const waves of [[], [0], ['0%'], ['101%'], ['ten'], [1.5], Array.from({ length: 21 }, (_, i) => i + 1)]) {
      expect(rolloutSchema.safeParse({ waves }).success, JSON.stringify(waves)).toBe(false);
    }
    expect(rolloutSchema.safeParse({ waves: [1], failureThreshold: 1.5 }).success).toBe(false);
    expect(rolloutSchema.safeParse({ waves: [1], pause: 5 }).success).toBe(false);
  });
});
