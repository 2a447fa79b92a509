/**
 * Transfer package to relay job: at the execution time, stage the package on every target relay. A relay
 * that holds an intact copy with the package's current expiry is sent nothing (`already_stored`); any other
 * gets the package again, and its copy's timer moves to the package's current expiry. Relays that do not
 * answer are tried again on timers until the deadline, while the others go on.
 */
import type { JobOutcome } from '../activities/index.js';
import type { JobWorkflowInput } from '../common/workflows.js';
import { continueAsNewUnlessCancelled } from './continue-as-new.js';
import { runJob } from './job-run.js';
import { stageRelays } from './relay-staging.js';

export async function transferJob(input: JobWorkflowInput): Promise<JobOutcome> {
  return runJob(input, () =>
    stageRelays(
      { jobId: input.jobId, packageId: input.packageId, deadline: input.deadline, purpose: 'transfer' },
      { afterRelayId: input.resume?.afterTargetId, round: input.resume?.round ?? 0 },
      (cursor) =>
        continueAsNewUnlessCancelled<typeof transferJob>({
          ...input,
          resume: { afterTargetId: cursor.afterRelayId, round: cursor.round, nextBatch: 0, handedOut: false, dispatching: [], open: [] },
        }),
    ),
  );
}
