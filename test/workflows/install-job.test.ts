/**
 * installJob on the real dev server with an in-memory fleet: the workflow's own decisions (when to start,
 * what to isolate, how to cancel, who waits for which relay), without agents or PostgreSQL.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { CourierActivities } from '../../activities/index.js';
import { jobWorkflowId } from '../../common/names.js';
import { DEADLINE_GRACE_MS } from '../../workflows/activity-options.js';
import { FakeFleet, computerId } from '../support/fake-fleet.js';
import { jobInput, jobStart } from '../support/job-workflows.js';
import { TemporalTestConnections, eventually, recordHistory } from '../support/temporal.js';

const temporal = TemporalTestConnections.forThisFile();

function withWorker<T>(activities: Partial<CourierActivities>, run: (taskQueue: string) => Promise<T>): Promise<T> {
  return temporal.withWorker('install-job', activities, run);
}

describe('installJob', () => {
  it('does nothing before its execution time, then installs on every target', async () => {
    const fleet = new FakeFleet({ computers: 3 });
    const args = jobInput(3000, 60_000);
    let startedAt = 0;
    const activities = { ...fleet.activities(temporal.client), startJob: async () => ((startedAt = Date.now()), true) };
    const outcome = await withWorker(activities, (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-scheduled');
    expect(startedAt).toBeGreaterThanOrEqual(Date.parse(args.scheduledAt));
    expect(outcome.status).toBe('completed');
    expect(fleet.counts()).toEqual({ installed: 3 });
  });

  it('a look at a batch that keeps failing for an unexpected reason is retried only until the deadline plus a grace', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    let tries = 0;
    const activities: Partial<CourierActivities> = {
      ...fleet.activities(temporal.client),
      driveBatch: async () => {
        tries++;
        throw new Error('a bug in the activity');
      },
    };
    // A deadline so long past that the grace is over too: what is left is the short window to record.
    const args = jobInput(-(DEADLINE_GRACE_MS + 3_600_000), 60_000);
    const outcome = await withWorker(activities, (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-batch-fails');
    expect(tries).toBeGreaterThan(1);
    expect(fleet.targets.get(computerId(1))).toMatchObject({ state: 'failed', detail: expect.stringContaining('a bug in the activity') });
    expect(fleet.counts()).toEqual({ failed: 2 });
    expect(outcome.status).toBe('completed_with_errors');
  });

  it('cancelled while waiting for its execution time: never starts, records the cancellation', async () => {
    const fleet = new FakeFleet({ computers: 1 });
    const args = jobInput(3_600_000, 60_000);
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => ((await handle.describe()).historyLength >= 5 ? true : undefined), 10_000, 'the timer');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    expect(fleet.calls).toEqual(['cancelJob']);
  });

  it('cancelled while installing: the computers it reached are told to stop, and the job records it', async () => {
    const fleet = new FakeFleet({ computers: 2, installMs: 3_600_000 });
    const args = jobInput(0, 3_600_000);
    await withWorker(fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.inState('installing').length === 2 ? true : undefined), 15_000, 'both installs to start');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-cancelled-while-installing');
    expect([...fleet.cancelled].sort()).toEqual([computerId(1), computerId(2)]);
    expect(fleet.calls).toEqual(['startJob', 'cancelJob']);
    expect(fleet.installRuns.size).toBe(0);
  });

  it('a job cancelled before Temporal had it ends without doing anything', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    fleet.startAllowed = false;
    const args = jobInput(0, 60_000);
    const outcome = await withWorker(fleet.activities(temporal.client), (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    expect(outcome.status).toBe('cancelled');
    expect(fleet.calls).toEqual(['startJob']);
    expect(fleet.counts()).toEqual({ pending: 2 });
  });

  it('fails the computers behind a relay that never answers at the deadline, and installs the rest at once', async () => {
    const fleet = new FakeFleet({ computers: 4, relayOf: (index) => (index <= 2 ? 'relay-dead' : undefined) });
    fleet.deadRelays.add('relay-dead');
    const args = jobInput(0, 12_000);
    const outcome = await withWorker(fleet.activities(temporal.client), (taskQueue) => temporal.client.workflow.execute('installJob', jobStart(taskQueue, args)));
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-relay-fails');
    // Whichever notices first at the deadline (the relay staging or the batch), the reason names the relay.
    expect(fleet.targets.get(computerId(1))).toMatchObject({ state: 'failed', detail: expect.stringMatching(/relay/) });
    expect(fleet.counts()).toEqual({ failed: 2, installed: 2 });
    // The direct computers did not wait for the dead relay (with seconds to spare on a loaded machine).
    expect(fleet.endedAt.get(computerId(3))!).toBeLessThan(Date.parse(args.deadline) - 6000);
    expect(outcome.status).toBe('completed_with_errors');
  });
});
