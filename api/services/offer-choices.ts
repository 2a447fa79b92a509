/**
 * A computer's user chose Install or Decline on an offer. The api records the choice once (the row is the
 * guard against double clicks and retries) and nudges the batch workflow that owns the computer's offer,
 * which reads the choice from the row and carries it out. The row is what counts: a nudge that goes astray
 * only delays the batch until its next check, and a batch closing its offers takes every choice recorded
 * in time.
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { offerChoices, type OfferChoice, type TargetState } from '../../common/states.js';
import { findTarget, matchesTarget, type TargetKey } from '../../db/repositories/job-targets.js';
import { jobTargets, type jobs } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { Conflict, Forbidden, NotFound, type ServiceError } from '../errors.js';
import { uuid } from '../view-schemas.js';
import { findJob } from './job-views.js';
import { finishedJobStatuses } from './jobs.js';
import type { BatchNudges } from './batch-nudges.js';

type JobRow = typeof jobs.$inferSelect;
type TargetRow = typeof jobTargets.$inferSelect;

/** The answer to an accepted choice. */
export const choiceReceiptSchema = z.strictObject({ jobId: uuid, computerId: uuid, choice: z.enum(offerChoices) });

export type ChoiceReceipt = z.infer<typeof choiceReceiptSchema>;

/** States a computer passes through before its offer is on the user's page. */
const beforeOffer: ReadonlySet<TargetState> = new Set<TargetState>(['pending', 'waiting_for_relay']);

/**
 * Final states a computer reaches without its user choosing: the offer never got there (failed,
 * unreachable) or was withdrawn (cancelled). `expired` is reported on its own.
 */
const endedWithoutChoice: ReadonlySet<TargetState> = new Set<TargetState>([
  'failed',
  'unreachable',
  'rejected',
  'conditions_not_met',
  'cancelled',
]);

/** Why this computer may not choose now, checked in the documented order; undefined when it may. */
function refusal(job: JobRow, target: TargetRow | undefined, now: Date): ServiceError | undefined {
  if (!target) return new Forbidden('not_offered', 'this offer was not made to this computer');
  if (job.status === 'cancelled') return new Conflict('offer_closed', `the offer was withdrawn: job ${job.id} was cancelled`);
  // A late user hears that the offer expired, also once the job has completed after its deadline.
  if (now >= job.deadline || target.state === 'expired') {
    return new Conflict('expired', `the offer expired at ${job.deadline.toISOString()}; no choice can be made any more`);
  }
  if (finishedJobStatuses.has(job.status)) {
    return new Conflict('offer_closed', `the offer is closed: job ${job.id} has ended as ${job.status}`);
  }
  if (target.choice !== null) {
    return new Conflict('already_decided', `this computer's user has already chosen ${target.choice}`);
  }
  if (beforeOffer.has(target.state) || (target.state === 'offered' && target.batchWorkflowId === null)) {
    return new Conflict('not_offered_yet', 'the offer has not reached this computer yet; try again shortly');
  }
  if (target.state === 'offered') return undefined;
  if (endedWithoutChoice.has(target.state)) {
    return new Conflict('offer_closed', `the offer to this computer ended as ${target.state}`);
  }
  return new Conflict('already_decided', `this computer's offer is already ${target.state}`);
}

/** Records the computer's choice and nudges the offer's batch workflow to carry it out. */
export async function recordOfferChoice(
  { db }: Pick<AppDependencies, 'db'>,
  nudges: BatchNudges,
  jobId: string,
  computerId: string,
  choice: OfferChoice,
): Promise<ChoiceReceipt> {
  const job = await findJob(db, jobId);
  if (job.type !== 'offer') throw new NotFound('job_not_found', `job ${job.id} is not an offer`);
  const key: TargetKey = { jobId: job.id, kind: 'computer', targetId: computerId };
  const matchesKey = matchesTarget(key);
  const refused = refusal(job, await findTarget(db, key), new Date());
  if (refused) throw refused;

  // Only one request can move choice from NULL: a concurrent second choice finds no row and gets a 409,
  // so a computer's choice is taken once.
  const [claimed] = await db
    .update(jobTargets)
    .set({ choice, updatedAt: sql`now()` })
    .where(
      and(matchesKey, isNull(jobTargets.choice), eq(jobTargets.state, 'offered'), isNotNull(jobTargets.batchWorkflowId)),
    )
    .returning({ batchWorkflowId: jobTargets.batchWorkflowId });
  if (!claimed?.batchWorkflowId) {
    throw (
      refusal(job, await findTarget(db, key), new Date()) ??
      new Conflict('already_decided', "this computer's user has already chosen")
    );
  }

  nudges.nudge(claimed.batchWorkflowId);
  return { jobId: job.id, computerId, choice };
}
