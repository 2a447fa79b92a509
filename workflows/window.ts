/**
 * A batch outside its job's maintenance window (common/windows.ts): its computers without an order are
 * marked `waiting_for_window`, and the batch sleeps on a durable timer until the window opens (no polling),
 * then marks them due again. Orders computers already hold go on. A window that would open only after the
 * deadline leaves them waiting until the deadline, when the batch ends them.
 */
import { sleep } from '@temporalio/workflow';
import type { JobBatchInput, TargetRange } from '../common/workflows.js';
import { windowStateAt } from '../common/windows.js';
import { batchActivities } from './batch-rounds.js';

/**
 * Returns at once inside the window (or without one); otherwise holds the batch's waiting computers, calls
 * `onHold` (the batch tells the job its first pass is as far as it can go), and sleeps until the window
 * opens or the deadline comes, whichever is first.
 */
export async function untilWindowOpens(input: JobBatchInput, range: TargetRange, onHold: () => Promise<void>): Promise<void> {
  if (!input.window) return;
  const state = windowStateAt(input.window, Date.now());
  if (state.inside) return;
  const { holdForWindow, releaseForWindow } = batchActivities(input);
  await holdForWindow(input.jobId, range, new Date(state.opensAt).toISOString());
  await onHold();
  const deadlineMs = Date.parse(input.deadline);
  await sleep(Math.max(0, Math.min(state.opensAt, deadlineMs) - Date.now()));
  if (state.opensAt < deadlineMs) await releaseForWindow(input.jobId, range);
}
