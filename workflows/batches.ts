/**
 * Hands a job's computers out in pages to child workflows. A batch counts against the job's window only
 * during its first pass over its computers; after that it waits for its stragglers on timers of its own,
 * and the job goes on. The job hears how its batches are doing through BatchReport signals, so it keeps a
 * cursor and batch numbers, never target lists, and continues as new whenever Temporal suggests it.
 */
import {
  CancellationScope,
  ContinueAsNew,
  ParentClosePolicy,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { jobBatchWorkflowId, jobRelaysWorkflowId } from '../common/names.js';
import {
  batchReportSignal,
  targetsJoinedSignal,
  type JobBatchInput,
  type JobCursor,
  type JobWorkflowInput,
  type TargetRange,
} from '../common/workflows.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';
import { continueAsNewUnlessCancelled } from './continue-as-new.js';
import { startRelayStaging } from './relay-staging.js';
import { Rollout } from './rollout.js';

/** Computers per child workflow: keeps a batch's history (a few events per computer) far below the limits. */
export const BATCH_SIZE = 500;
/**
 * Batches in their first pass at once, the fewest: also the fixed bound that histories from before the
 * bound followed the job's download slots replay with (the `FIRST_PASS_FOLLOWS_SLOTS` patch).
 */
const MIN_DISPATCHING_BATCHES = 4;
/** And the most: each holds one of the worker's activity slots while it waits for download slots. */
const MAX_DISPATCHING_BATCHES = 40;
/**
 * Computers in their batches' first pass per download slot of the job. A batch is a page of computers by
 * id, so they fall on relays unevenly; with one candidate per slot, a relay whose candidates ran out
 * idled until a batch ended its first pass and the next began (docs/scaling.md measures it).
 */
const CANDIDATES_PER_SLOT = 3;
const FIRST_PASS_FOLLOWS_SLOTS = 'first-pass-follows-download-slots';
/** How long a cancelled job waits for its batches to tell their computers to stop. */
const CANCEL_WAIT_MS = 5 * 60_000;
/**
 * How long the job waits for a batch report before it checks its bookkeeping against Temporal. A report
 * signalled while the job continues as new can be applied after the run has already computed the state it
 * hands on (temporalio/sdk-dotnet#427 describes the same race), so the next run would wait for it forever.
 */
const RECONCILE_AFTER_MS = 30_000;
/** How often a dynamic job looks for joined computers that no signal told it of. */
const JOINER_SWEEP_MS = 5 * 60_000;
/** How long a dynamic job lets computers join after a signal before it hands them out: a burst makes one batch. */
const JOINERS_SETTLE_MS = 5_000;

export type BatchWorkflow = (input: JobBatchInput) => Promise<void>;

/**
 * What bounds the batches in their first pass at once: an install job's download slots, or the minimum
 * for an offer job, whose first pass sends offers, which take no slot (at the minimum, 10,000 computers
 * are offered in about 20 s; more batches sent more offers at once and only took the worker's memory up).
 */
export type FirstPassBound = 'download_slots' | 'minimum';

/**
 * The job's batches as the current run knows them, and its rollout if it has one; created before the job's
 * first await, so no report or resume signal arrives before its handler.
 */
export class BatchTracker {
  readonly dispatching: Set<number>;
  readonly open: Set<number>;
  readonly rollout: Rollout | undefined;
  /** A dynamic job heard that computers joined it since it last looked. */
  joined = false;

  constructor(input: JobWorkflowInput) {
    this.dispatching = new Set(input.resume?.dispatching);
    this.open = new Set(input.resume?.open);
    this.rollout = input.rollout && new Rollout(input, input.rollout);
    setHandler(batchReportSignal, ({ batch, phase }) => {
      this.dispatching.delete(batch);
      if (phase === 'done') this.open.delete(batch);
    });
    setHandler(targetsJoinedSignal, () => {
      this.joined = true;
    });
  }

  /** Waits until `ready()`, checking the bookkeeping against Temporal whenever no report came for a while. */
  async waitUntil(input: JobWorkflowInput, ready: () => boolean): Promise<void> {
    while (!(await condition(ready, RECONCILE_AFTER_MS))) await this.reconcile(input);
  }

  /** Drops batches that Temporal says have ended, or have ended their first pass, from the bookkeeping. */
  async reconcile(input: JobWorkflowInput): Promise<void> {
    if (this.open.size === 0) return;
    const { batchStates } = proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
    const states = await batchStates(input.jobId, [...this.open]);
    const open = new Set(states.open);
    const dispatching = new Set(states.dispatching);
    for (const batch of [...this.open]) if (!open.has(batch)) this.open.delete(batch);
    for (const batch of [...this.dispatching]) if (!dispatching.has(batch)) this.dispatching.delete(batch);
  }
}

/**
 * Runs `batchWorkflow` over every unfinished computer target, then waits for every batch to end. A rollout
 * hands out one wave at a time: the next only once every batch of the last has ended. A dynamic job then
 * hands out the computers that join it, until its deadline.
 */
export async function runInBatches(input: JobWorkflowInput, tracker: BatchTracker, batchWorkflow: BatchWorkflow, bound: FirstPassBound): Promise<void> {
  const { pageEnd, gatherJoiners } = proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
  const cursor: JobCursor = input.resume ?? { nextBatch: 0, handedOut: false, dispatching: [], open: [] };
  const { dispatching, open, rollout } = tracker;
  let firstPassBatches = MIN_DISPATCHING_BATCHES;
  const continueIfSuggested = async (): Promise<void> => {
    if (!workflowInfo().continueAsNewSuggested) return;
    const resume: JobCursor = { ...cursor, dispatching: [...dispatching], open: [...open] };
    // Continues the calling job workflow (install or offer), which skips straight back here.
    await continueAsNewUnlessCancelled<(input: JobWorkflowInput) => Promise<unknown>>({ ...input, resume });
  };

  const startNextBatch = async (range: TargetRange): Promise<void> => {
    const batch = cursor.nextBatch++;
    dispatching.add(batch);
    open.add(batch);
    await startBatch(input, batchWorkflow, { batch, ...range });
  };

  /**
   * Joined computers are handed out in batches of their own: soon after the api signals that some joined
   * (a short wait first, so a burst of enrolments makes one batch rather than hundreds), and at a slow
   * sweep that finds any it missed. Those that joined just before the deadline still get their batch,
   * which sends them their order once, as every batch does at the deadline.
   */
  const handOutJoiners = async (): Promise<void> => {
    for (;;) {
      await tracker.waitUntil(input, () => dispatching.size < firstPassBatches);
      await continueIfSuggested();
      // Cleared before looking, so a signal that comes while the look runs is not lost.
      tracker.joined = false;
      const batch = cursor.nextBatch;
      const { claimed, relaysToStage } = await gatherJoiners(input.jobId, batch, BATCH_SIZE);
      if (claimed > 0) {
        // Joiners behind relays the job had not listed wait for a staging of their own.
        if (relaysToStage > 0) {
          await startRelayStaging(input, jobRelaysWorkflowId(input.jobId, batch));
          cursor.joinedStagings = [...(cursor.joinedStagings ?? []), batch];
        }
        await startNextBatch({ joinedBatch: batch });
        continue;
      }
      const left = Date.parse(input.deadline) - Date.now();
      if (left <= 0) return;
      setCurrentDetails(`**Running**; computers that gain the job's labels join it until its deadline, ${input.deadline}.`);
      if (await condition(() => tracker.joined, Math.min(JOINER_SWEEP_MS, left))) await sleep(JOINERS_SETTLE_MS);
    }
  };

  /** Every computer has ended (or the job was cancelled): no joiner needs its relays staged any more. */
  const cancelJoinedStagings = async (): Promise<void> => {
    for (const batch of cursor.joinedStagings ?? []) await cancelWorkflow(jobRelaysWorkflowId(input.jobId, batch));
  };

  const untilBatchesEnd = async (): Promise<void> => {
    for (;;) {
      await tracker.waitUntil(input, () => open.size === 0 || workflowInfo().continueAsNewSuggested);
      if (open.size === 0) return;
      await continueIfSuggested();
    }
  };

  try {
    // A report may have missed the run that handed this one its state.
    if (input.resume) await tracker.reconcile(input);
    rollout?.showRunning(cursor);
    firstPassBatches = await firstPassBound(input, cursor, bound);
    while (!cursor.handedOut) {
      await tracker.waitUntil(input, () => dispatching.size < firstPassBatches);
      await continueIfSuggested();
      const through = await pageEnd(input.jobId, 'computer', cursor.afterTargetId, BATCH_SIZE, rollout?.waveEnd(cursor));
      if (through === null) {
        if (rollout?.hasNextWave(cursor)) {
          await untilBatchesEnd();
          if (await rollout.advance(cursor)) continue;
        }
        cursor.handedOut = true;
        break;
      }
      await startNextBatch({ afterTargetId: cursor.afterTargetId, throughTargetId: through });
      cursor.afterTargetId = through;
    }
    if (input.dynamic) await handOutJoiners();
    await untilBatchesEnd();
    await cancelJoinedStagings();
  } catch (error) {
    if (isCancellation(error)) await cancelBatches(input, open);
    if (!(error instanceof ContinueAsNew)) await cancelJoinedStagings();
    throw error;
  }
}

/**
 * How many batches may be in their first pass at once: for `download_slots`, enough computers waiting for
 * their orders to keep every download slot of the job busy, worked out when the job starts and carried
 * across continue-as-new; otherwise the minimum.
 */
async function firstPassBound(input: JobWorkflowInput, cursor: JobCursor, bound: FirstPassBound): Promise<number> {
  if (bound === 'minimum' || !patched(FIRST_PASS_FOLLOWS_SLOTS)) return MIN_DISPATCHING_BATCHES;
  if (cursor.firstPassBatches === undefined) {
    const { jobDownloadSlots } = proxyActivities<CourierActivities>(boundedByDeadline(databaseWrite, input.deadline));
    const candidates = CANDIDATES_PER_SLOT * (await jobDownloadSlots(input.jobId));
    cursor.firstPassBatches = Math.min(MAX_DISPATCHING_BATCHES, Math.max(MIN_DISPATCHING_BATCHES, Math.ceil(candidates / BATCH_SIZE)));
  }
  return cursor.firstPassBatches;
}

async function startBatch(
  input: JobWorkflowInput,
  batchWorkflow: BatchWorkflow,
  page: TargetRange & { batch: number },
): Promise<void> {
  await startChild(batchWorkflow, {
    workflowId: jobBatchWorkflowId(input.jobId, page.batch),
    args: [
      {
        jobId: input.jobId,
        packageId: input.packageId,
        deadline: input.deadline,
        ...(input.window && { window: input.window }),
        ...(input.downloadOutsideWindow && { downloadOutsideWindow: true }),
        ...page,
      },
    ],
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
    staticSummary: `batch ${page.batch + 1} of job ${input.jobId}`,
    // Batches outlive the job's runs (it continues as new while they wait for stragglers); a cancelled
    // job cancels them itself.
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
}

/** Asks every open batch to cancel, then waits (bounded) for them to tell their computers to stop. */
async function cancelBatches(input: JobWorkflowInput, open: Set<number>): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    await Promise.all([...open].map((batch) => cancelWorkflow(jobBatchWorkflowId(input.jobId, batch))));
    await condition(() => open.size === 0, CANCEL_WAIT_MS);
  });
}

/**
 * Requests cancellation of another workflow of the job; one that has already ended needs none. Not
 * cancellable itself, since it runs while the job is being cancelled.
 */
export async function cancelWorkflow(workflowId: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(workflowId).cancel();
    } catch {
      // Already ended (or never started): nothing to cancel.
    }
  });
}
