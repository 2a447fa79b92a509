/**
 * Readiness: the api is healthy only when PostgreSQL answers, Temporal answers, and a worker is polling
 * the task queue, because without a worker every new job would wait silently. Each check has a deadline
 * so a hung dependency makes health fail instead of hang.
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { errorMessage } from '../../common/errors.js';
import type { AppDependencies } from '../dependencies.js';

/** The outcome of one check; `reason` says what failed, in words an operator can act on. */
const healthCheckSchema = z.strictObject({ ok: z.boolean(), reason: z.string().optional() });

type HealthCheck = z.infer<typeof healthCheckSchema>;

/** The answer of GET /health: `ok` only when every check passed. */
export const healthSchema = z.strictObject({
  status: z.enum(['ok', 'unavailable']),
  checks: z.strictObject({ database: healthCheckSchema, temporal: healthCheckSchema, worker: healthCheckSchema }),
});

export type Health = z.infer<typeof healthSchema>;

const CHECK_MS = 3000;
/**
 * Temporal lists pollers seen in the last few minutes; a live worker re-polls at least every minute (the
 * long-poll timeout), so an older last poll means the worker is gone.
 */
const POLLER_FRESH_MS = 2 * 60_000;

/** Runs one check; `what` names the dependency in the reason, e.g. `Temporal at 127.0.0.1:7233`. */
async function check(what: string, run: () => Promise<string | undefined>): Promise<HealthCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${CHECK_MS} ms`), CHECK_MS);
  });
  try {
    const reason = await Promise.race([run(), timeout]);
    return reason === undefined ? { ok: true } : { ok: false, reason: `${what}: ${reason}` };
  } catch (error) {
    return { ok: false, reason: `${what}: ${errorMessage(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the three checks in parallel. */
export async function checkHealth({
  db,
  temporal,
  config,
}: Pick<AppDependencies, 'db' | 'temporal' | 'config'>): Promise<Health> {
  const namespace = temporal.options.namespace;
  const deadline = () => Date.now() + CHECK_MS;
  const [database, temporalCheck, worker] = await Promise.all([
    check('PostgreSQL', async () => {
      await db.execute(sql`select 1`);
      return undefined;
    }),
    check(`Temporal at ${config.temporalAddress}`, async () => {
      await temporal.withDeadline(deadline(), () => temporal.workflowService.describeNamespace({ namespace }));
      return undefined;
    }),
    check(`task queue "${config.taskQueue}"`, async () => {
      const { pollers } = await temporal.withDeadline(deadline(), () =>
        // An unspecified task queue type means the workflow queue (temporal.api.workflowservice.v1).
        temporal.workflowService.describeTaskQueue({ namespace, taskQueue: { name: config.taskQueue } }),
      );
      const now = Date.now();
      const live = pollers.filter((poller) => {
        const seconds = Number(String(poller.lastAccessTime?.seconds ?? 0));
        return now - seconds * 1000 < POLLER_FRESH_MS;
      });
      return live.length > 0 ? undefined : 'no worker is polling it; start the worker';
    }),
  ]);
  const ok = database.ok && temporalCheck.ok && worker.ok;
  return { status: ok ? 'ok' : 'unavailable', checks: { database, temporal: temporalCheck, worker } };
}
