/** Handing out the computers that join a dynamic job after its creation (db/repositories/job-joiners.ts). */
import { eq } from 'drizzle-orm';
import { addJoiners, claimJoiners, listJoinersRelays } from '../db/repositories/job-joiners.js';
import { jobs } from '../db/schema/index.js';
import type { ActivityDependencies } from './dependencies.js';

/** What a look for joiners found. */
export interface JoinersGathered {
  claimed: number;
  relaysToStage: number;
}

export function createJoinerActivities({ db, clock }: ActivityDependencies) {
  return {
    /**
     * Claims up to `limit` of the job's joined computers for batch `batch`: how many the batch owns, and
     * how many relays behind them nobody has begun staging on (the job then stages them). Before the
     * deadline it first adds any computer carrying the job's labels that the api did not (one that gained
     * them while the job was being created, or whose api request died halfway).
     */
    async gatherJoiners(jobId: string, batch: number, limit: number): Promise<JoinersGathered> {
      const [job] = await db.select({ spec: jobs.targetSpec, deadline: jobs.deadline }).from(jobs).where(eq(jobs.id, jobId));
      if (job?.spec.labels && job.deadline > clock()) await addJoiners(db, jobId, job.spec.labels);
      const claimed = await claimJoiners(db, jobId, batch, limit);
      return { claimed, relaysToStage: claimed > 0 ? await listJoinersRelays(db, jobId, batch) : 0 };
    },
  };
}
