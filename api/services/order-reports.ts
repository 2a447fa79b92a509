/**
 * A computer reports on its install order (OrderReport in common/orders.ts), with its own token. The report
 * is recorded on the computer's target exactly as the order's answer would be (db/repositories/
 * computer-status.ts): idempotent, never moving an ended target, never going backwards. When it ends the
 * last working computer of its batch, the batch is nudged to look now.
 */
import { eq } from 'drizzle-orm';
import type { OrderReport } from '../../common/orders.js';
import type { ComputerState } from '../../common/states.js';
import { batchHasWorkingComputers, recordComputerStatus } from '../../db/repositories/computer-status.js';
import { jobs, packages } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { NotFound } from '../errors.js';
import type { BatchNudges } from './batch-nudges.js';
import { isUuid } from '../validation.js';

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
  // One query for what the report is checked against: a fleet's reports are most of the api's traffic.
  const [job] = isUuid(jobId)
    ? await db
        .select({ type: jobs.type, packageId: packages.id, packageSize: packages.size })
        .from(jobs)
        .innerJoin(packages, eq(packages.id, jobs.packageId))
        .where(eq(jobs.id, jobId))
    : [];
  if (!job) throw new NotFound('job_not_found', `no job ${jobId}`);
  if (job.type === 'transfer' || report.packageId !== job.packageId) {
    throw new NotFound('order_not_found', `job ${jobId} sent this computer no install order for package ${report.packageId}`);
  }
  const pkg = { id: job.packageId, size: job.packageSize };
  const recorded = await recordComputerStatus(db, { jobId, kind: 'computer', targetId: computerId }, report, pkg);
  if (!recorded.state) throw new NotFound('order_not_found', `job ${jobId} has no order for this computer`);
  const batch = recorded.batchWorkflowId;
  if (recorded.ended && batch && !(await batchHasWorkingComputers(db, jobId, batch))) nudges.nudge(batch);
  return { jobId, computerId, state: recorded.state, recorded: recorded.recorded };
}
