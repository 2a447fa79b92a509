/**
 * A job's download slots (common/throughput.ts): how many of its computers may download at once from each
 * relay and from the managing server, and how many that makes for the whole job.
 */
import { and, eq, sql } from 'drizzle-orm';
import { computers, jobs, jobTargets } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

export interface DownloadLimits {
  perRelay: number;
  server: number;
}

/** The job's own limits, or the worker's defaults where the job sets none. */
export async function jobDownloadLimits({ db, downloads }: Pick<ActivityDependencies, 'db' | 'downloads'>, jobId: string): Promise<DownloadLimits> {
  const [job] = await db.select({ perRelay: jobs.downloadsPerRelay, server: jobs.serverDownloads }).from(jobs).where(eq(jobs.id, jobId));
  return { perRelay: job?.perRelay ?? downloads.perRelay, server: job?.server ?? downloads.server };
}

/**
 * A job's slots in all: those of every relay its computers are behind, and the managing server's when
 * some of them (`direct`) have no relay.
 */
export function totalDownloadSlots(sources: { relays: number; direct: boolean }, limits: DownloadLimits): number {
  return sources.relays * limits.perRelay + (sources.direct ? limits.server : 0);
}

export function createDownloadSlotActivities(deps: Pick<ActivityDependencies, 'db' | 'downloads'>) {
  return {
    /** The job's slots in all (totalDownloadSlots): one pass over its targets, when its workflow starts. */
    async jobDownloadSlots(jobId: string): Promise<number> {
      const limits = await jobDownloadLimits(deps, jobId);
      const [sources] = await deps.db
        .select({
          relays: sql<number>`count(distinct ${computers.relayId})::int`,
          direct: sql<boolean>`coalesce(bool_or(${computers.relayId} is null), false)`,
        })
        .from(jobTargets)
        .innerJoin(computers, eq(computers.id, jobTargets.targetId))
        .where(and(eq(jobTargets.jobId, jobId), eq(jobTargets.kind, 'computer')));
      return totalDownloadSlots(sources ?? { relays: 0, direct: false }, limits);
    },
  };
}
