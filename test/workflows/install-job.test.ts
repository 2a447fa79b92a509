/**
 * installJob on the real dev server with in-memory activities: the workflow's own decisions (when to start,
 * what to isolate, how to cancel), without agents or PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { CourierActivities } from '../../activities/index.js';
import { jobWorkflowId } from '../../common/names.js';
import type { ComputerState } from '../../common/states.js';
import type { JobWorkflowInput } from '../../common/workflows.js';
import { TemporalTestConnections, eventually, recordHistory } from '../support/temporal.js';

/** An in-memory job: what the activities were asked to do, in order. */
class FakeJob {
  readonly calls: string[] = [];
  readonly states = new Map<string, ComputerState>();
  startedAt?: number;
  cancelled = false;
  constructor(
    readonly computers: string[],
    readonly behaviour: (computerId: string) => Promise<ComputerState> = async () => 'installed',
  ) {}

  activities(): Partial<CourierActivities> {
    return {
      startJob: async () => {
        this.startedAt = Date.now();
        this.calls.push('startJob');
      },
      relaysServingTargets: async () => [],
      targetPage: async (_jobId, _kind, afterId) =>
        this.computers.filter((id) => (afterId === undefined || id > afterId) && !this.states.has(id)),
      installOnComputer: async ({ computerId }) => {
        const state = await this.behaviour(computerId);
        this.states.set(computerId, state);
        return state;
      },
      failTargets: async (_jobId, ids) => {
        for (const id of ids) this.states.set(id, 'failed');
      },
      finishJob: async () => {
        this.calls.push('finishJob');
        const failed = [...this.states.values()].some((state) => state !== 'installed');
        return { status: failed ? 'completed_with_errors' : 'completed', counts: {} };
      },
      cancelJob: async () => {
        this.cancelled = true;
        this.calls.push('cancelJob');
      },
      failJob: async () => {
        this.calls.push('failJob');
      },
    };
  }
}

const temporal = TemporalTestConnections.forThisFile();

function withWorker<T>(job: FakeJob, run: (taskQueue: string) => Promise<T>): Promise<T> {
  return temporal.withWorker('install-job', job.activities(), run);
}

function input(scheduledInMs: number): JobWorkflowInput {
  const scheduledAt = new Date(Date.now() + scheduledInMs);
  return {
    jobId: randomUUID(),
    packageId: randomUUID(),
    scheduledAt: scheduledAt.toISOString(),
    deadline: new Date(scheduledAt.getTime() + 60_000).toISOString(),
  };
}

describe('installJob', () => {
  it('does nothing before its execution time, then installs on every target', async () => {
    const job = new FakeJob(['a', 'b', 'c']);
    const args = input(3000);
    const outcome = await withWorker(job, (taskQueue) =>
      temporal.client.workflow.execute('installJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] }),
    );
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-scheduled');
    expect(job.startedAt).toBeGreaterThanOrEqual(Date.parse(args.scheduledAt));
    expect(outcome.status).toBe('completed');
    expect([...job.states.entries()].sort()).toEqual([
      ['a', 'installed'],
      ['b', 'installed'],
      ['c', 'installed'],
    ]);
  });

  it("isolates one target's failure: the others still install and the job completes with errors", async () => {
    const job = new FakeJob(['a', 'b', 'c'], async (id) => {
      if (id === 'b') throw ApplicationFailure.nonRetryable('computer b exploded');
      return 'installed';
    });
    const args = input(0);
    const outcome = await withWorker(job, (taskQueue) =>
      temporal.client.workflow.execute('installJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] }),
    );
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-one-target-fails');
    expect(job.states.get('a')).toBe('installed');
    expect(job.states.get('b')).toBe('failed');
    expect(job.states.get('c')).toBe('installed');
    expect(outcome.status).toBe('completed_with_errors');
  });

  it('cancelled while waiting for its execution time: never starts, records the cancellation', async () => {
    const job = new FakeJob(['a']);
    const args = input(3_600_000);
    await withWorker(job, async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] });
      await eventually(async () => ((await handle.describe()).historyLength >= 5 ? true : undefined), 10_000, 'the timer');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    expect(job.calls).toEqual(['cancelJob']);
  });

  it('cancelled while installing: the running install is cancelled and the job records it', async () => {
    let installing = 0;
    const job = new FakeJob(['a', 'b'], async () => {
      installing++;
      await Context.current().sleep(3_600_000); // an install that only cancellation ends
      return 'installed';
    });
    const args = input(0);
    await withWorker(job, async (taskQueue) => {
      const handle = await temporal.client.workflow.start('installJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] });
      await eventually(async () => (installing === 2 ? true : undefined), 15_000, 'both installs to start');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-cancelled-while-installing');
    expect(job.calls).toEqual(['startJob', 'cancelJob']);
    expect(job.states.size).toBe(0);
  });

  it('fails the computers behind a relay that could not store the package, and installs the rest', async () => {
    const job = new FakeJob(['a', 'b']);
    const failedBehind: string[] = [];
    const activities: Partial<CourierActivities> = {
      ...job.activities(),
      relaysServingTargets: async () => ['relay-1'],
      stageOnRelay: async () => ({ state: 'failed', detail: 'relay-1 unreachable' }),
      failComputersBehindRelay: async (_jobId, relayId, reason) => {
        failedBehind.push(`${relayId}: ${reason}`);
        job.states.set('a', 'failed');
      },
    };
    const args = input(0);
    const outcome = await temporal.withWorker('install-job', activities, (taskQueue) =>
      temporal.client.workflow.execute('installJob', { taskQueue, workflowId: jobWorkflowId(args.jobId), args: [args] }),
    );
    await recordHistory(jobWorkflowId(args.jobId), 'install-job-relay-fails');
    expect(failedBehind).toEqual(['relay-1: relay-1 unreachable']);
    expect(job.states.get('b')).toBe('installed');
    expect(outcome.status).toBe('completed_with_errors');
  });
});
