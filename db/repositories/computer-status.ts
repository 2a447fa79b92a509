/**
 * What the status of a computer's install order means for its target row, whichever way it arrived: as
 * the agent's answer to an order a batch sent, or as a report the agent posted to the api. One place, so
 * both paths record the same; every write is conditional, so a duplicate or late status changes nothing.
 */
import { and, eq, notInArray, sql } from 'drizzle-orm';
import { finalOrderStates, type OrderProgress, type OrderState } from '../../common/orders.js';
import { terminalTargetStates, type ComputerState } from '../../common/states.js';
import type { Database } from '../client.js';
import { installations, jobTargets } from '../schema/index.js';
import { matchesTarget, type TargetKey } from './job-targets.js';

/** How much of the install command's output a target's detail quotes. */
const DETAIL_OUTPUT_CHARS = 300;

/** The target state an order state means; an order the agent let expire counts as unreachable. */
function targetStateOf(state: OrderState): ComputerState {
  return state === 'expired' ? 'unreachable' : (state as ComputerState);
}

function describe(status: OrderProgress, packageSize: number): string | null {
  if (status.state === 'downloading' && status.bytes !== undefined && status.bytes > 0) {
    // Steps of 10 %, so the detail an admin reads does not flicker with every report.
    const percent = packageSize === 0 ? 100 : Math.floor((status.bytes * 10) / packageSize) * 10;
    return `downloading: ${percent}% of ${packageSize} bytes`;
  }
  const detail = status.detail ?? null;
  const output = status.outputTail?.trim();
  if (status.state === 'installed' || !finalOrderStates.has(status.state) || !output) return detail;
  return `${detail ?? status.state}; output: ${output.slice(-DETAIL_OUTPUT_CHARS)}`;
}

/** What recording a status did to the target. */
export interface RecordedStatus {
  /** The target's state afterwards; undefined when the job has no such target. */
  state: ComputerState | undefined;
  /** Whether the status was taken: false when the target had already ended, or was further along. */
  recorded: boolean;
  /** Whether this status ended the target (it was not ended before). */
  ended: boolean;
  /** The batch workflow that sent the order, to be told when its computers are done. */
  batchWorkflowId: string | null;
}

/**
 * Records an install order's status on its target. A target that has ended never changes, and a target
 * already installing never goes back to downloading (reports of one order arrive in order, but an answer
 * to a status query may cross a report). Every status counts as a sign of life (`lastReportAt`).
 *
 * One statement records it, with the installed-package record for `installed`, since reports are most of
 * a fleet's traffic to the api. A second query runs only for a status that was not taken, to say what the
 * target is instead.
 */
export async function recordComputerStatus(
  db: Database,
  target: TargetKey,
  status: OrderProgress,
  pkg: { id: string; size: number },
  attempts?: number,
): Promise<RecordedStatus> {
  const state = targetStateOf(status.state);
  const final = finalOrderStates.has(status.state);
  const notEnded = notInArray(jobTargets.state, [...terminalTargetStates]);
  const notBackwards = state === 'downloading' || state === 'waiting_for_window' ? sql`${jobTargets.state} <> 'installing'` : undefined;
  const update = db
    .update(jobTargets)
    .set({
      state,
      detail: describe(status, pkg.size),
      lastReportAt: sql`now()`,
      nextAttemptAt: null,
      ...(attempts !== undefined && { attempts: sql`greatest(${jobTargets.attempts}, ${attempts})` }),
      updatedAt: sql`now()`,
    })
    .where(and(matchesTarget(target), notEnded, notBackwards))
    .returning({ batchWorkflowId: jobTargets.batchWorkflowId });
  // An exit code says the command ran (a reinstall, or the first install): this job installed the package
  // last. Without one the computer had it already, from the job the record names.
  const ranCommand = status.exitCode !== undefined;
  const onConflict = ranCommand
    ? sql`on conflict (computer_id, package_id) do update set job_id = excluded.job_id, installed_at = excluded.installed_at`
    : sql`on conflict do nothing`;
  const recordInstalled =
    status.state === 'installed'
      ? sql`, installed as (
          insert into ${installations} (computer_id, package_id, job_id, installed_at)
          select ${target.targetId}::uuid, ${pkg.id}::uuid, ${target.jobId}::uuid, ${new Date(status.updatedAt).toISOString()}::timestamptz from updated
          ${onConflict})`
      : sql``;
  // getSQL(): embedded as a statement; drizzle would parenthesise the builder itself as a subquery.
  const [row] = await db.execute<{ batch_workflow_id: string | null }>(
    sql`with updated as (${update.getSQL()})${recordInstalled} select batch_workflow_id from updated`,
  );
  if (row) return { state, recorded: true, ended: final, batchWorkflowId: row.batch_workflow_id };
  const [current] = await db
    .select({ state: jobTargets.state, batchWorkflowId: jobTargets.batchWorkflowId })
    .from(jobTargets)
    .where(matchesTarget(target));
  return {
    state: current?.state as ComputerState | undefined,
    recorded: false,
    ended: false,
    batchWorkflowId: current?.batchWorkflowId ?? null,
  };
}

/**
 * Whether the batch still has computers downloading or installing (see the `job_targets_working` index).
 * Asked after the status that ended a target has been committed, in a statement of its own: of two last
 * computers ending at once, the later one to ask then sees both ended, so the batch is always nudged.
 */
export async function batchHasWorkingComputers(db: Database, jobId: string, batchWorkflowId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql`1` })
    .from(jobTargets)
    .where(
      and(
        eq(jobTargets.jobId, jobId),
        eq(jobTargets.batchWorkflowId, batchWorkflowId),
        sql`${jobTargets.state} in ('downloading', 'installing')`,
      ),
    )
    .limit(1);
  return rows.length > 0;
}
