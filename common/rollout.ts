/**
 * Rollouts: a job's computers handed out in waves (DESIGN §7 "Rollout control"). The admin gives each
 * wave's end as a count or a percentage of the job's computers, cumulative (`[10, "10%", "100%"]`: ten
 * computers first, then up to a tenth of them, then the rest); computers beyond the last entry form one
 * more wave, so every computer is in one. Waves follow the computers' ids, which are random, so each wave
 * is a sample of the whole fleet rather than, say, the first site in name order.
 */
import { z } from 'zod';

/** More waves than anyone stages by hand; each costs the job a few workflow events. */
export const MAX_WAVES = 20;

/** One wave's end: a number of computers, or a percentage of the job's computers. */
export const waveEndSchema = z.union([
  z.number().int().min(1),
  z
    .string()
    .regex(/^(\d{1,3})(\.\d+)?%$/, { error: 'a wave is a count of computers or a percentage such as "10%"' })
    .refine((text) => Number.parseFloat(text) > 0 && Number.parseFloat(text) <= 100, { error: 'a percentage is above 0% and at most 100%' }),
]);

export type WaveEnd = z.infer<typeof waveEndSchema>;

/** The `rollout` of a job request. */
export const rolloutSchema = z
  .object({
    waves: z.array(waveEndSchema).min(1).max(MAX_WAVES),
    /** How long to wait after a wave has ended before the next one starts. */
    pauseSeconds: z.number().int().min(0).max(30 * 86_400).optional(),
    /** The fraction (0-1) of a wave's computers ending `failed` or `rejected` above which the job pauses. */
    failureThreshold: z.number().min(0).max(1).optional(),
  })
  .strict();

export type Rollout = z.infer<typeof rolloutSchema>;

/**
 * The number of computers each wave ends at, cumulative and strictly increasing, the last one `total`.
 * Waves that would add no computer (an end at or below the previous one) are left out.
 */
export function waveEnds(waves: readonly WaveEnd[], total: number): number[] {
  const ends: number[] = [];
  for (const wave of waves) {
    const end = typeof wave === 'number' ? wave : Math.ceil((Number.parseFloat(wave) / 100) * total);
    const bounded = Math.min(end, total);
    if (bounded > (ends.at(-1) ?? 0)) ends.push(bounded);
  }
  if ((ends.at(-1) ?? 0) < total) ends.push(total);
  return ends;
}

/** Whether a wave's failures cross the threshold: strictly above it, so a threshold of 0 pauses on the first failure. */
export function crossesThreshold(failures: number, size: number, threshold: number | undefined): boolean {
  return threshold !== undefined && size > 0 && failures / size > threshold;
}

/** One wave as the job's workflow runs it: how many computers, and the last of them in id order. */
export interface WavePlan {
  size: number;
  throughTargetId: string;
}

/** A job's rollout, resolved against its computers when the job is created. */
export interface RolloutPlan {
  /** The waves as the admin gave them. */
  requested: WaveEnd[];
  waves: WavePlan[];
  pauseSeconds: number;
  failureThreshold: number | null;
}
