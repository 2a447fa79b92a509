/**
 * offerJob on the real dev server with in-memory activities: offers go out, choices arrive as signals to
 * the batch that owns each computer, the deadline expires the rest, and cancelling withdraws open offers.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { CourierActivities } from '../../activities/index.js';
import { jobBatchWorkflowId, jobWorkflowId } from '../../common/names.js';
import { offerChoiceSignal, type JobWorkflowInput } from '../../common/workflows.js';
import { TemporalTestConnections, eventually, recordHistory } from '../support/temporal.js';

class FakeOffer {
  readonly offered = new Set<string>();
  readonly installed: string[] = [];
  readonly declined: string[] = [];
  readonly expired: string[] = [];
  readonly withdrawn: string[] = [];
  readonly calls: string[] = [];

  constructor(readonly computers: string[]) {}

  activities(): Partial<CourierActivities> {
    return {
      startJob: async () => void this.calls.push('startJob'),
      relaysServingTargets: async () => [],
      targetPage: async (_jobId, _kind, afterId) => (afterId === undefined ? this.computers : []),
      offerToComputer: async ({ computerId }) => {
        this.offered.add(computerId);
        return 'offered';
      },
      installOnComputer: async ({ computerId }) => {
        this.installed.push(computerId);
        return 'installed';
      },
      recordDecline: async (_jobId, computerId) => void this.declined.push(computerId),
      expireOffers: async (_jobId, ids) => {
        const open = ids.filter((id) => !this.installed.includes(id) && !this.declined.includes(id));
        this.expired.push(...open);
        return open.length;
      },
      withdrawOffers: async (_jobId, _packageId, ids) => {
        this.withdrawn.push(...ids);
        return ids.length;
      },
      failTargets: async () => undefined,
      finishJob: async () => {
        this.calls.push('finishJob');
        return { status: 'completed', counts: {} };
      },
      cancelJob: async () => void this.calls.push('cancelJob'),
      failJob: async () => void this.calls.push('failJob'),
    };
  }
}

const temporal = TemporalTestConnections.forThisFile();

function input(deadlineInMs: number): JobWorkflowInput {
  const now = Date.now();
  return {
    jobId: randomUUID(),
    packageId: randomUUID(),
    scheduledAt: new Date(now).toISOString(),
    deadline: new Date(now + deadlineInMs).toISOString(),
  };
}

function withWorker<T>(offer: FakeOffer, run: (taskQueue: string) => Promise<T>): Promise<T> {
  return temporal.withWorker('offer-job', offer.activities(), run);
}

describe('offerJob', () => {
  it('installs for users who choose Install, records declines, and expires the silent at the deadline', async () => {
    const offer = new FakeOffer(['a', 'b', 'c']);
    const args = input(5000);
    await withWorker(offer, async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] });
      await eventually(async () => (offer.offered.size === 3 ? true : undefined), 15_000, 'the offers');
      const batch = temporal.client.workflow.getHandle(jobBatchWorkflowId(args.jobId, 0));
      await batch.signal(offerChoiceSignal, { computerId: 'a', choice: 'install' });
      await batch.signal(offerChoiceSignal, { computerId: 'b', choice: 'decline' });
      await batch.signal(offerChoiceSignal, { computerId: 'a', choice: 'decline' }); // a repeat changes nothing
      await handle.result();
      await recordHistory(jobWorkflowId(args.jobId), 'offer-job');
      await recordHistory(jobBatchWorkflowId(args.jobId, 0), 'offer-batch');
    });
    expect(offer.installed).toEqual(['a']);
    expect(offer.declined).toEqual(['b']);
    expect(offer.expired).toEqual(['c']);
    expect(offer.calls).toEqual(['startJob', 'finishJob']);
  });

  it('finishes as soon as every user has chosen, without waiting for the deadline', async () => {
    const offer = new FakeOffer(['a', 'b']);
    const args = input(3_600_000);
    await withWorker(offer, async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] });
      await eventually(async () => (offer.offered.size === 2 ? true : undefined), 15_000, 'the offers');
      const batch = temporal.client.workflow.getHandle(jobBatchWorkflowId(args.jobId, 0));
      await batch.signal(offerChoiceSignal, { computerId: 'b', choice: 'install' });
      await batch.signal(offerChoiceSignal, { computerId: 'a', choice: 'install' });
      await handle.result();
    });
    expect(offer.installed.sort()).toEqual(['a', 'b']);
    expect(offer.expired).toEqual([]);
  });

  it('cancelled while waiting for choices: open offers are withdrawn and the job records the cancellation', async () => {
    const offer = new FakeOffer(['a', 'b']);
    const args = input(3_600_000);
    await withWorker(offer, async (taskQueue) => {
      const handle = await temporal.client.workflow.start('offerJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] });
      await eventually(async () => (offer.offered.size === 2 ? true : undefined), 15_000, 'the offers');
      await temporal.client.workflow.getHandle(jobBatchWorkflowId(args.jobId, 0)).signal(offerChoiceSignal, { computerId: 'a', choice: 'decline' });
      await eventually(async () => (offer.declined.length === 1 ? true : undefined), 15_000, 'the decline');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      await recordHistory(jobBatchWorkflowId(args.jobId, 0), 'offer-batch-cancelled');
    });
    expect(offer.withdrawn.sort()).toEqual(['a', 'b']);
    expect(offer.calls).toEqual(['startJob', 'cancelJob']);
    expect(offer.installed).toEqual([]);
  });
});
