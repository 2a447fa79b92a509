/**
 * Nudges batch workflows (batchNudgeSignal) so they look at their computers now instead of at their next
 * check. Nudges for one batch are merged: at most one signal per batch is in flight, and nudges that arrive
 * meanwhile make one more. A nudge is only a hint (what happened is in PostgreSQL), so one that fails is
 * dropped: the batch finds the news at its next check.
 */
import type { Client } from '@temporalio/client';
import { batchNudgeSignal } from '../../common/workflows.js';
import { callTemporal } from './temporal-calls.js';

export class BatchNudges {
  /** Batches being signalled now, and whether another nudge came for them meanwhile. */
  private readonly inFlight = new Map<string, { again: boolean }>();

  constructor(private readonly temporal: Client) {}

  nudge(batchWorkflowId: string): void {
    const flight = this.inFlight.get(batchWorkflowId);
    if (flight) {
      flight.again = true;
      return;
    }
    this.inFlight.set(batchWorkflowId, { again: false });
    void this.send(batchWorkflowId);
  }

  private async send(batchWorkflowId: string): Promise<void> {
    for (;;) {
      try {
        await callTemporal(this.temporal, () => this.temporal.workflow.getHandle(batchWorkflowId).signal(batchNudgeSignal));
      } catch {
        // The batch has ended, or Temporal is away: either way its next check (or nothing) takes over.
      }
      const flight = this.inFlight.get(batchWorkflowId);
      if (!flight?.again) break;
      flight.again = false;
    }
    this.inFlight.delete(batchWorkflowId);
  }
}
