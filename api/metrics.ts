/**
 * The api's Prometheus metrics (GET /metrics, docs/operations.md): jobs by type and status and the targets
 * of unfinished jobs by state, read from PostgreSQL at each scrape, so every api node reports the same
 * truth; and what this node saw itself: agent reports received, package bytes it served, and install
 * durations measured from computers' reports. Plus Node's process metrics.
 */
import { and, count, eq, inArray } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OrderReport } from '../common/orders.js';
import { unfinishedJobStatuses } from '../common/states.js';
import { jobs, jobTargets } from '../db/schema/index.js';
import type { AppDependencies } from './dependencies.js';

/** Installs whose `installing` report is remembered until their outcome arrives (a few dozen bytes each). */
const INSTALLS_REMEMBERED = 200_000;

/** Install durations in seconds: from a few seconds to the manifest's largest timeout, a day. */
const INSTALL_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86_400];

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly reports: Counter<'state'>;
  private readonly bytesServed: Counter<'kind'>;
  private readonly installSeconds: Histogram<'outcome'>;
  /** `<job>/<computer>` → when the computer said it started installing, by its own clock. */
  private readonly installingSince = new LRUCache<string, number>({ max: INSTALLS_REMEMBERED });

  constructor(db: AppDependencies['db']) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'courier_jobs',
      help: 'Jobs by type and status.',
      labelNames: ['type', 'status'],
      registers,
      async collect() {
        const rows = await db.select({ type: jobs.type, status: jobs.status, jobs: count() }).from(jobs).groupBy(jobs.type, jobs.status);
        this.reset();
        for (const row of rows) this.set({ type: row.type, status: row.status }, row.jobs);
      },
    });
    new Gauge({
      name: 'courier_job_targets',
      help: 'Targets of the jobs that have not ended (scheduled, running or paused), by kind and state.',
      labelNames: ['kind', 'state'],
      registers,
      async collect() {
        const rows = await db
          .select({ kind: jobTargets.kind, state: jobTargets.state, targets: count() })
          .from(jobTargets)
          .innerJoin(jobs, and(eq(jobs.id, jobTargets.jobId), inArray(jobs.status, [...unfinishedJobStatuses])))
          .groupBy(jobTargets.kind, jobTargets.state);
        this.reset();
        for (const row of rows) this.set({ kind: row.kind, state: row.state }, row.targets);
      },
    });
    this.reports = new Counter({
      name: 'courier_agent_reports_total',
      help: "Computers' reports on their install orders received by this api node, by the state reported.",
      labelNames: ['state'],
      registers,
    });
    this.bytesServed = new Counter({
      name: 'courier_package_bytes_served_total',
      help: 'Package content bytes this api node served to agents, by who fetched it (relay or computer).',
      labelNames: ['kind'],
      registers,
    });
    this.installSeconds = new Histogram({
      name: 'courier_install_duration_seconds',
      help: "How long install commands ran, from a computer's `installing` report to its outcome, by its own clock.",
      labelNames: ['outcome'],
      buckets: INSTALL_BUCKETS,
      registers,
    });
  }

  /** A computer's report was recorded (or found a duplicate): count it, and time its install. */
  reportReceived(jobId: string, computerId: string, report: OrderReport): void {
    this.reports.inc({ state: report.state });
    const key = `${jobId}/${computerId}`;
    const at = Date.parse(report.updatedAt);
    if (report.state === 'installing') {
      // Reports repeat while the command runs, each with the time the state began: keep the first.
      if (!this.installingSince.has(key)) this.installingSince.set(key, at);
      return;
    }
    const since = this.installingSince.get(key);
    if (since === undefined || (report.state !== 'installed' && report.state !== 'failed')) return;
    this.installingSince.delete(key);
    if (at >= since) this.installSeconds.observe({ outcome: report.state }, (at - since) / 1000);
  }

  /** Package content went out to an agent. */
  contentServed(kind: 'relay' | 'computer', bytes: number): void {
    if (bytes > 0) this.bytesServed.inc({ kind }, bytes);
  }
}
