/**
 * offerJob on the real dev server with an in-memory fleet: offers go out, choices recorded by the api nudge
 * the batch that owns each computer, the deadline expires the rest, a choice recorded just in time is
 * carried out even when its nudge never comes, and cancelling withdraws open offers.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { jobBatchWorkflowId, jobWorkflowId } from '../../common/names.js';
import { batchNudgeSignal, type OfferChoice } from '../../common/workflows.js';
import { FakeFleet, computerId } from '../support/fake-fleet.js';
import { jobInput, jobStart } from '../support/job-workflows.js';
import { TemporalTestConnections, eventually, recordHistory } from '../support/temporal.js';

const temporal = TemporalTestConnections.forThisFile();

/** What the api does with a choice: record it, then nudge the batch that owns the computer. */
function choose(fleet: FakeFleet, index: number, choice: OfferChoice): Promise<void> {
  return fleet.choose(temporal.client, computerId(index), choice);
}

describe('offerJob', () => {
  it('installs for users who choose Install, records declines, and expires the silent at the deadline', async () => {
    const fleet = new FakeFleet({ computers: 3 });
    const args = jobInput(0, 6000);
    await temporal.withWorker('offer-job', fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.inState('offered').length === 3 ? true : undefined), 15_000, 'the offers');
      await choose(fleet, 1, 'install');
      await choose(fleet, 2, 'decline');
      // A stray nudge (the api refuses a second choice) changes nothing: what counts is the recorded choice.
      await temporal.client.workflow.getHandle(jobBatchWorkflowId(args.jobId, 0)).signal(batchNudgeSignal);
      await handle.result();
      await recordHistory(jobWorkflowId(args.jobId), 'offer-job');
      await recordHistory(jobBatchWorkflowId(args.jobId, 0), 'offer-batch');
    });
    expect(fleet.counts()).toEqual({ installed: 1, declined: 1, expired: 1 });
    expect(fleet.calls).toEqual(['startJob', 'finishJob']);
  });

  it('finishes as soon as every user has chosen, without waiting for the deadline', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    const args = jobInput(0, 3_600_000);
    await temporal.withWorker('offer-job', fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.inState('offered').length === 2 ? true : undefined), 15_000, 'the offers');
      await choose(fleet, 2, 'install');
      await choose(fleet, 1, 'install');
      await handle.result();
    });
    expect(fleet.counts()).toEqual({ installed: 2 });
  });

  it('carries out a choice recorded just before the deadline whose nudge never came', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    const args = jobInput(0, 5000);
    await temporal.withWorker('offer-job', fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.inState('offered').length === 2 ? true : undefined), 15_000, 'the offers');
      // The api recorded the choice; its nudge is lost.
      fleet.recordChoice(computerId(1), 'install');
      await handle.result();
    });
    expect(fleet.targets.get(computerId(1))?.state).toBe('installed');
    expect(fleet.targets.get(computerId(2))?.state).toBe('expired');
  });

  it('cancelled while waiting for choices: open offers are withdrawn and the job records the cancellation', async () => {
    const fleet = new FakeFleet({ computers: 2 });
    const args = jobInput(0, 3_600_000);
    await temporal.withWorker('offer-job', fleet.activities(temporal.client), async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', jobStart(taskQueue, args));
      await eventually(async () => (fleet.inState('offered').length === 2 ? true : undefined), 15_000, 'the offers');
      await choose(fleet, 1, 'decline');
      await eventually(async () => (fleet.inState('declined').length === 1 ? true : undefined), 15_000, 'the decline');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      await recordHistory(jobBatchWorkflowId(args.jobId, 0), 'offer-batch-cancelled');
    });
    expect([...fleet.cancelled]).toEqual([computerId(2)]);
    expect(fleet.calls).toEqual(['startJob', 'cancelJob']);
    expect(fleet.counts()).toEqual({ declined: 1, cancelled: 1 });
  });
});
