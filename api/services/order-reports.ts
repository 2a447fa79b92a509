/**
 * A computer reports on its install order (OrderReport in common/orders.ts), with its own token. The report
 * is recorded on the computer's target exactly as the order's answer would be (db/repositories/
 * computer-status.ts): idempotent, never moving an ended target, never going backwards. When it ends the
 * last working computer of its batch, the batch is nudged to look now. Once its job is known, a report costs
 * the database one statement besides its token's lookup (two when it ends the target): reports are most of
 * a fleet's traffic to the api.
 */
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import type { OrderReport } from '../../common/orders.js';
import { computerStates } from '../../common/states.js';
import { batchHasWorkingComputers, recordComputerStatus } from '../../db/repositories/computer-status.js';
import { jobs, packages } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import type { ApiMetrics } from '../metrics.js';
import { NotFound } from '../errors.js';
import type { BatchNudges } from './batch-nudges.js';
import { isUuid } from '../validation.js';
import { uuid } from '../view-schemas.js';

/** The answer to a report: the computer's state as the job now records it. */
export const reportReceiptSchema = z.strictObject({
  jobId: uuid,
  computerId: uuid,
  state: z.enum(computerStates),
  /** False for a duplicate or late report: the computer's target had already ended, or was further along. */
  recorded: z.boolean(),
});

export type ReportReceipt = z.infer<typeof reportReceiptSchema>;

/** What a report is checked against: a job's type and package, which never change once it exists. */
interface JobFacts {
  type: string;
  packageId: string;
  packageSize: number;
}

/** Jobs whose facts are kept: far more than ever run at once, a few hundred bytes each. */
const KNOWN_JOBS = 1024;

/** Records computers' reports (one per api process, so it keeps the facts of the jobs being reported on). */
export class OrderReports {
  /** Jobs that exist, by id: a fleet reports on a handful of jobs, thousands of times each. */
  private readonly known = new LRUCache<string, JobFacts>({ max: KNOWN_JOBS });

  constructor(
    private readonly deps: Pick<AppDependencies, 'db'>,
    private readonly nudges: BatchNudges,
    private readonly metrics: ApiMetrics,
  ) {}

  async record(jobId: string, computerId: string, report: OrderReport): Promise<ReportReceipt> {
    const job = await this.factsOf(jobId);
    if (!job) throw new NotFound('job_not_found', `no job ${jobId}`);
    if (job.type === 'transfer' || report.packageId !== job.packageId) {
      throw new NotFound('order_not_found', `job ${jobId} sent this computer no install order for package ${report.packageId}`);
    }
    const pkg = { id: job.packageId, size: job.packageSize };
    const recorded = await recordComputerStatus(this.deps.db, { jobId, kind: 'computer', targetId: computerId }, report, pkg);
    if (!recorded.state) throw new NotFound('order_not_found', `job ${jobId} has no order for this computer`);
    this.metrics.reportReceived(jobId, computerId, report);
    const batch = recorded.batchWorkflowId;
    if (recorded.ended && batch && !(await batchHasWorkingComputers(this.deps.db, jobId, batch))) this.nudges.nudge(batch);
    return { jobId, computerId, state: recorded.state, recorded: recorded.recorded };
  }

  /** The job's facts; undefined when there is no such job (not kept, so a job created later is found). */
  private async factsOf(jobId: string): Promise<JobFacts | undefined> {
    const kept = this.known.get(jobId);
    if (kept || !isUuid(jobId)) return kept;
    const [job] = await this.deps.db
      .select({ type: jobs.type, packageId: packages.id, packageSize: packages.size })
      .from(jobs)
      .innerJoin(packages, eq(packages.id, jobs.packageId))
      .where(eq(jobs.id, jobId));
    if (job) this.known.set(jobId, job);
    return job;
  }
}
