/**
 * A batch outside its job's maintenance window (common/windows.ts): its computers without an order are
 * marked `waiting_for_window`, and the batch sleeps on a durable timer until the window opens (no polling),
 * then marks them due again. Orders computers already hold go on. A window that would open only after the
 * deadline leaves them waiting until the deadline, when the batch ends them. A job that lets computers
 * download outside its window is not held: its orders say to install once the window opens, and each
 * computer downloads now and waits, reporting `waiting_for_window` itself.
 */
import { sleep } from '@temporalio/workflow';
import type { JobBatchInput, TargetRange } from '../common/workflows.js';
import { windowStateAt } from '../common/windows.js';
import { batchActivities } from './batch-rounds.js';

/**
 * Returns at once inside the window (or without one); otherwise holds the batch's waiting computers, calls
 * `onHold` (the batch tells the job its first pass is as far as it can go), and sleeps until the window
 * opens or the deadline comes, whichever is first. Returns when orders may install: undefined for at
 * once, or the window's opening when the job lets computers download before it.
 */
export async function untilWindowOpens(input: JobBatchInput, range: TargetRange, onHold: () => Promise<void>): Promise<string | undefined> {
  if (!input.window) return undefined;
  const state = windowStateAt(input.window, Date.now());
  if (state.inside) return undefined;
  const opensAt = new Date(state.opensAt).toISOString();
  const deadlineMs = Date.parse(input.deadline);
  // An order to install after the deadline would only expire on the computer: such a window holds as any.
  if (input.downloadOutsideWindow && state.opensAt < deadlineMs) return opensAt;
  const { holdForWindow, releaseForWindow } = batchActivities(input);
  await holdForWindow(input.jobId, range, opensAt);
  await onHold();
  await sleep(Math.max(0, Math.min(state.opensAt, deadlineMs) - Date.now()));
  if (state.opensAt < deadlineMs) await releaseForWindow(input.jobId, range);
  return undefined;
}
