/**
 * A computer reports on its install order (OrderReport in common/orders.ts), with its own token. The report
 * is recorded on the computer's target exactly as the order's answer would be (db/repositories/
 * computer-status.ts): idempotent, never moving an ended target, never going backwards. When it ends the
 * last working computer of its batch, the batch is nudged to look now.
 */
import type { OrderReport } from '../../common/orders.js';
import type { ComputerState } from '../../common/states.js';
import { batchHasWorkingComputers, recordComputerStatus } from '../../db/repositories/computer-status.js';
import { findPackage } from '../../db/repositories/packages.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import type { BatchNudges } from './batch-nudges.js';
import { findJob } from './job-views.js';

/** The answer to a report: the computer's state as the job now records it. */
export interface ReportReceipt {
  jobId: string;
  computerId: string;
  state: ComputerState;
  /** False for a duplicate or late report: the computer's target had already ended, or was further along. */
  recorded: boolean;
}

export async function recordOrderReport(
  { db }: Pick<AppDependencies, 'db'>,
  nudges: BatchNudges,
  jobId: string,
  computerId: string,
  report: OrderReport,
): Promise<ReportReceipt> {
  const job = await findJob(db, jobId);
  const pkg = await findPackage(db, job.packageId);
  if (job.type === 'transfer' || !pkg || report.packageId !== job.packageId) {
    throw new NotFound('order_not_found', `job ${job.id} sent this computer no install order for package ${report.packageId}`);
  }
  const recorded = await recordComputerStatus(db, { jobId: job.id, kind: 'computer', targetId: computerId }, report, pkg);
  if (!recorded.state) throw new NotFound('order_not_found', `job ${job.id} has no order for this computer`);
  const batch = recorded.batchWorkflowId;
  if (recorded.ended && batch && !(await batchHasWorkingComputers(db, job.id, batch))) nudges.nudge(batch);
  return { jobId: job.id, computerId, state: recorded.state, recorded: recorded.recorded };
}
