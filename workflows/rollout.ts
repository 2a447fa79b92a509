/**
 * A job's rollout waves (common/rollout.ts) inside its fan-out: each wave's computers are handed out only
 * after the previous wave has ended and the pause has passed. A wave whose failures cross the threshold
 * pauses the job, durably and without polling, until an admin resumes it (a signal) or the deadline comes;
 * cancelling a paused job cancels the workflow as always.
 */
import { condition, proxyActivities, setCurrentDetails, setHandler, sleep } from '@temporalio/workflow';
import type { CourierActivities } from '../activities/index.js';
import { crossesThreshold, type RolloutPlan } from '../common/rollout.js';
import { resumeJobSignal, type JobCursor, type JobWorkflowInput } from '../common/workflows.js';
import { boundedByDeadline, databaseWrite } from './activity-options.js';

/** Why computers never handed out end `cancelled` when a rollout runs out of time. */
const PAUSED_AT_DEADLINE = "the rollout was still paused at the job's deadline, so this computer's wave never started";
const DEADLINE_BEFORE_WAVE = "the job's deadline came before this computer's wave started";

export class Rollout {
  private resumeRequested = false;

  /** Created before the workflow's first await, so a resume signal always finds its handler. */
  constructor(
    private readonly input: JobWorkflowInput,
    private readonly plan: RolloutPlan,
  ) {
    setHandler(resumeJobSignal, () => {
      this.resumeRequested = true;
    });
  }

  /** The last target the cursor's wave may hand out. */
  waveEnd(cursor: JobCursor): string {
    return this.plan.waves[cursor.wave ?? 0]!.throughTargetId;
  }

  /** Whether a wave follows the cursor's. */
  hasNextWave(cursor: JobCursor): boolean {
    return (cursor.wave ?? 0) < this.plan.waves.length - 1;
  }

  /** What the Temporal UI shows while a wave is being handed out. */
  showRunning(cursor: JobCursor): void {
    const wave = cursor.wave ?? 0;
    setCurrentDetails(`**Running** wave ${wave + 1} of ${this.plan.waves.length} (${this.plan.waves[wave]!.size} computers).`);
  }

  /**
   * The cursor's wave has ended: pauses while its failures cross the threshold, waits the pause, and moves
   * the cursor to the next wave. Returns false when the deadline came first: the computers not yet handed
   * out have ended `cancelled` and the job ends with what it has.
   */
  async advance(cursor: JobCursor): Promise<boolean> {
    const { waveFailures, pauseJob, resumeJob, endRollout } = proxyActivities<CourierActivities>(
      boundedByDeadline(databaseWrite, this.input.deadline),
    );
    const index = cursor.wave ?? 0;
    const wave = this.plan.waves[index]!;
    const failures = await waveFailures(this.input.jobId, this.plan.waves[index - 1]?.throughTargetId, wave.throughTargetId);
    const untilDeadline = () => Math.max(0, Date.parse(this.input.deadline) - Date.now());
    if (crossesThreshold(failures, wave.size, this.plan.failureThreshold ?? undefined)) {
      const reason =
        `wave ${index + 1} of ${this.plan.waves.length}: ${failures} of ${wave.size} computers failed, above the failure threshold ` +
        `of ${this.plan.failureThreshold}; resume with POST /api/v1/jobs/${this.input.jobId}/resume or cancel the job`;
      this.resumeRequested = false;
      await pauseJob(this.input.jobId, reason);
      setCurrentDetails(`**Paused**: ${reason}.`);
      // condition() without a timeout (0 is none) would wait forever: a deadline already past ends it at once.
      const left = untilDeadline();
      if (left === 0 || !(await condition(() => this.resumeRequested, left))) {
        await endRollout(this.input.jobId, PAUSED_AT_DEADLINE);
        return false;
      }
      await resumeJob(this.input.jobId);
    }
    if (this.plan.pauseSeconds > 0) {
      setCurrentDetails(`**Waiting** ${this.plan.pauseSeconds} s after wave ${index + 1} before wave ${index + 2}.`);
      await sleep(this.plan.pauseSeconds * 1000);
    }
    if (untilDeadline() === 0) {
      await endRollout(this.input.jobId, DEADLINE_BEFORE_WAVE);
      return false;
    }
    cursor.wave = index + 1;
    this.showRunning(cursor);
    return true;
  }
}
