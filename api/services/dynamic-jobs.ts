/**
 * Computers joining dynamic jobs as their labels change, at enrolment or by an admin's PATCH: every open
 * dynamic job whose labels the computer now carries takes it in at once (the job view shows it), and the
 * job's workflow is told so it hands the computer out soon. Never fails its caller: the workflow's own
 * sweep (activities/joiners.ts) finds any computer this missed.
 */
import { targetsJoinedSignal } from '../../common/workflows.js';
import { addJoiners, dynamicJobsMatching, hasUnclaimedJoiners } from '../../db/repositories/job-joiners.js';
import type { AppDependencies } from '../dependencies.js';
import { callTemporal } from './temporal-calls.js';

export async function joinDynamicJobs({ db, temporal, logger }: Pick<AppDependencies, 'db' | 'temporal' | 'logger'>, computerId: string): Promise<void> {
  try {
    for (const job of await dynamicJobsMatching(db, computerId)) {
      // A job that still has joiners to claim has been told already: a burst of enrolments sends one signal.
      const told = await hasUnclaimedJoiners(db, job.id);
      if ((await addJoiners(db, job.id, job.labels, computerId)) === 0 || told) continue;
      await callTemporal(temporal, () => temporal.workflow.getHandle(job.workflowId).signal(targetsJoinedSignal)).catch((error: unknown) => {
        logger.warn({ jobId: job.id, computerId, err: error }, "could not tell a dynamic job that a computer joined; its next sweep hands it out");
      });
    }
  } catch (error) {
    logger.warn({ computerId, err: error }, 'could not add the computer to the dynamic jobs it now matches; their next sweep will');
  }
}
