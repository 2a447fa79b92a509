/**
 * Rollout control in installJob on the real dev server with an in-memory fleet: waves in order with the
 * pause between them, a halt above the failure threshold until resumed, a cancel while paused, a rollout
 * still paused at its deadline, maintenance windows that open later or too late, and computers joining a
 * dynamic job.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { CourierActivities } from '../../activities/index.js';
import type { RolloutPlan } from '../../common/rollout.js';
import type { MaintenanceWindow } from '../../common/windows.js';
import { resumeJobSignal, targetsJoinedSignal, type JobWorkflowInput } from '../../common/workflows.js';
import { FakeFleet, computerId } from '../support/fake-fleet.js';
import { jobInput, jobStart } from '../support/job-workflows.js';
import { TemporalTestConnections, eventually } from '../support/temporal.js';

const temporal = TemporalTestConnections.forThisFile();

function withWorker<T>(activities: Partial<CourierActivities>, run: (taskQueue: string) => Promise<T>): Promise<T> {
  return temporal.withWorker('rollout', activities, run);
}

/** Three waves of two computers each (pc-1 and pc-2 first), as the api plans them for six computers. */
function threeWaves(pauseSeconds: number, failureThreshold: number | null): RolloutPlan {
  return {
    requested: [2, 4],
    waves: [2, 4, 6].map((end) => ({ size: 2, throughTargetId: computerId(end) })),
    pauseSeconds,
    failureThreshold,
  };
}

function withRollout(input: JobWorkflowInput, rollout: RolloutPlan): JobWorkflowInput {
  return { ...input, rollout };
}

/** When the first computer of `wave` (0 first) began installing, and when the last of it ended. */
function span(fleet: FakeFleet, wave: number): { first: number; last: number } {
  const ids = [1, 2].map((n) => computerId(wave * 2 + n));
  return { first: Math.min(...ids.map((id) => fleet.installingAt.get(id)!)), last: Math.max(...ids.map((id) => fleet.endedAt.get(id)!)) };
}

describe('rollout waves', () => {
  it('hands out each wave once the last has ended and the pause has passed', async () => {
    const fleet = new FakeFleet({ computers: 6, installMs: 300 });
    const args = withRollout(jobInput(0, 120_000), threeWaves(2, 0.5));
    const outcome = await withWorker(fleet.activities(temporal.client), (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    expect([outcome.status, fleet.counts()]).toEqual(['completed', { installed: 6 }]);
    for (const wave of [1, 2]) expect(span(fleet, wave).first - span(fleet, wave - 1).last).toBeGreaterThanOrEqual(2000);
    expect(fleet.calls.filter((call) => call.startsWith('pauseJob'))).toEqual([]);
  });

  it('pauses above the threshold with the next wave untouched, and goes on when resumed', async () => {
    const fleet = new FakeFleet({ computers: 6 });
    fleet.failing.add(computerId(3)).add(computerId(4));
    const args = withRollout(jobInput(0, 120_000), threeWaves(0, 0.5));
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.status === 'paused' ? true : undefined), 20_000, 'the pause');
      expect(fleet.calls.at(-1)).toMatch(/^pauseJob: wave 2 of 3: 2 of 2 computers failed, above the failure threshold of 0\.5/);
      expect(fleet.counts()).toEqual({ installed: 2, failed: 2, pending: 2 });
      await handle.signal(resumeJobSignal);
      expect((await handle.result()).status).toBe('completed_with_errors');
    });
    expect(fleet.counts()).toEqual({ installed: 4, failed: 2 });
    expect(fleet.calls).toContain('resumeJob');
  });

  it('cancelled while paused: the computers of later waves end cancelled and nothing more is installed', async () => {
    const fleet = new FakeFleet({ computers: 6 });
    fleet.failing.add(computerId(1));
    const args = withRollout(jobInput(0, 120_000), threeWaves(0, 0));
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.status === 'paused' ? true : undefined), 20_000, 'the pause');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    expect(fleet.counts()).toEqual({ installed: 1, failed: 1, cancelled: 4 });
    expect(fleet.installRuns.size).toBe(2);
  });

  it('still paused at the deadline: the rest end cancelled, saying why, and the job ends', async () => {
    const fleet = new FakeFleet({ computers: 6 });
    fleet.failing.add(computerId(1));
    const args = withRollout(jobInput(0, 4_000), threeWaves(0, 0));
    const outcome = await withWorker(fleet.activities(temporal.client), (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    expect([outcome.status, fleet.counts()]).toEqual(['completed_with_errors', { installed: 1, failed: 1, cancelled: 4 }]);
    expect(fleet.targets.get(computerId(6))?.detail).toMatch(/still paused at the job's deadline/);
  });
});

/** A UTC window opening `inMs` from now, to the second, and staying open an hour. */
function utcWindowIn(inMs: number): { window: MaintenanceWindow; opensAt: number } {
  const opensAt = Math.ceil((Date.now() + inMs) / 1000) * 1000;
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  return { window: { start: clock(opensAt), end: clock(opensAt + 3_600_000), timezone: 'UTC' }, opensAt };
}

describe('maintenance windows', () => {
  it('holds the computers waiting_for_window until the window opens, then installs', async () => {
    const fleet = new FakeFleet({ computers: 3 });
    const { window, opensAt } = utcWindowIn(6000);
    const args = { ...jobInput(0, 120_000), window };
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.counts().waiting_for_window === 3 ? true : undefined), 10_000, 'the hold');
      expect(Date.now()).toBeLessThan(opensAt);
      expect((await handle.result()).status).toBe('completed');
    });
    expect(fleet.counts()).toEqual({ installed: 3 });
    for (const at of fleet.installingAt.values()) expect(at).toBeGreaterThanOrEqual(opensAt);
  });

  it('a window that opens only after the deadline ends the computers cancelled at the deadline', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    const args = { ...jobInput(0, 3000), window: utcWindowIn(3_600_000).window };
    const outcome = await withWorker(fleet.activities(temporal.client), (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    expect([outcome.status, fleet.counts(), fleet.installRuns.size]).toEqual(['completed_with_errors', { cancelled: 2 }, 0]);
  });
});

describe('dynamic targets', () => {
  it('hands out the computers that join after the start in one batch of their own, and runs until the deadline', async () => {
    const fleet = new FakeFleet({ computers: 3 });
    const args: JobWorkflowInput = { ...jobInput(0, 10_000), dynamic: true };
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.counts().installed === 3 ? true : undefined), 10_000, 'the first computers');
      await eventually(async () => (fleet.calls.includes('gatherJoiners: 0') ? true : undefined), 10_000, 'the first look for joiners');
      // A burst of enrolments: the api records each joiner and signals the job.
      for (const index of [4, 5, 6]) {
        expect(fleet.join(index)).toBe(true);
        await handle.signal(targetsJoinedSignal);
      }
      await eventually(async () => (fleet.counts().installed === 6 ? true : undefined), 10_000, 'the joined computers');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect((await handle.result()).status).toBe('completed');
    });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(args.deadline));
    expect(fleet.counts()).toEqual({ installed: 6 });
    const claims = fleet.calls.filter((call) => call.startsWith('gatherJoiners') && call !== 'gatherJoiners: 0');
    expect(claims).toEqual(['gatherJoiners: 3']);
    expect([...fleet.installRuns.values()].every((runs) => runs === 1)).toBe(true);
  });

  it('joiners of a rollout wait for its last wave to start, and never count in a wave', async () => {
    const fleet = new FakeFleet({ computers: 6, installMs: 300 });
    const args: JobWorkflowInput = { ...withRollout(jobInput(0, 10_000), threeWaves(2, null)), dynamic: true };
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.counts().installed === 2 ? true : undefined), 10_000, 'the first wave');
      fleet.join(7);
      await handle.signal(targetsJoinedSignal);
      expect((await handle.result()).status).toBe('completed');
    });
    expect(fleet.counts()).toEqual({ installed: 7 });
    expect(fleet.installingAt.get(computerId(7))).toBeGreaterThanOrEqual(span(fleet, 2).first);
  });
});
