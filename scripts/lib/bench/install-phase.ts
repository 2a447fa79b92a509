/**
 * Step 1 of a run: an install job to every computer, timed from its execution time to its end, with the
 * computers finished sampled four times a second for the chart, and what the job cost: server egress, its
 * workflows' histories and the rows PostgreSQL wrote.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { InstallFigures } from './figures.js';
import { createJob, describeCounts, explainOutcomes, hasEnded, leadMsFor, uploadRandomPackage, watchJob, type UploadedPackage } from './jobs.js';
import { cpuSeconds, cpuUsedBetween, jobWorkflows, rowsWritten, Sampler, settledEgress } from './measures.js';
import type { BenchLog, BenchStack } from './stack.js';

/**
 * The longest a job of this fleet may take before the run gives up on it: generous, since this is no
 * assertion (on a 2-core machine a job costs some 35 ms per computer; this allows 100).
 */
export function phaseTimeoutMs(computers: number): number {
  return 30 * 60_000 + computers * 100;
}

/** Egress of a package as a multiple of one copy per relay: 1 when each relay fetched it once and no computer did. */
export async function egressOf(stack: BenchStack, pkg: UploadedPackage, relays: number): Promise<InstallFigures['egress']> {
  const egress = await settledEgress(() => stack.request('GET', `/packages/${pkg.id}`), stack.signal);
  return { ...egress, ratio: (egress.toRelays + egress.toComputers) / (pkg.size * relays) };
}

/** Runs the install job and measures it; resolves with its figures and the package the floor downloads again. */
export async function installPhase(
  stack: BenchStack,
  fleet: { computers: number; relays: number; sizeBytes: number; installMs: number; downloadsPerRelay: number },
  log: BenchLog,
): Promise<{ figures: InstallFigures; pkg: UploadedPackage }> {
  const pkg = await uploadRandomPackage(stack, 'bench-install', fleet.sizeBytes, fleet.installMs);
  const rowsBefore = await rowsWritten(stack.databaseUrl, stack.signal);
  const created = await createJob(stack, 'install', pkg.id, leadMsFor(fleet.computers), fleet.downloadsPerRelay);
  log(`install job ${created.id} created; it starts in ${((created.start - Date.now()) / 1000).toFixed(1)} s`);
  if (created.lateMs > 0) log(`install: POST /jobs answered ${created.lateMs} ms after the execution time; timing from the answer`);
  await sleep(Math.max(0, created.start - Date.now()), undefined, { signal: stack.signal });

  const cpuBefore = await cpuSeconds(stack.pids);
  const sampler = new Sampler(created.start, async () => (await stack.fleet.installsOf(created.id)).finished);
  let job;
  let at;
  try {
    ({ job, at } = await watchJob(stack, created.id, hasEnded, {
      timeoutMs: phaseTimeoutMs(fleet.computers),
      progress: (view) => log(`install: ${sampler.last}/${fleet.computers} computers finished; ${view.status}: ${describeCounts(view.counts)}`),
    }));
  } finally {
    sampler.stop();
  }
  const cpu = cpuUsedBetween(cpuBefore, await cpuSeconds(stack.pids));
  const ended = job.finishedAt ? Date.parse(job.finishedAt) : at;
  const courierMs = ended - created.start;
  log(`install job ${job.status} in ${(courierMs / 1000).toFixed(1)} s: ${describeCounts(job.counts)}`);
  for (const line of await explainOutcomes(stack, job, 'installed')) log(`install: ${line}`);

  const installs = await stack.fleet.installsOf(created.id);
  // The chart runs to the job's end (what finished on the computers before Courier knew is the gap to see)
  // and ends on the final count, even when the last sample's read was still under way at the end.
  sampler.points.push([Math.max(courierMs / 1000, sampler.points.at(-1)?.[0] ?? 0), installs.finished]);
  log('reading the fleet statistics, the egress, the workflows and the database statistics');
  const repeated = (await stack.fleet.repeatedInstalls()).filter((run) => run.jobId === created.id).length;
  const egress = await egressOf(stack, pkg, fleet.relays);
  const workflows = await jobWorkflows(stack.temporalAddress, created.id);
  const rows = (await rowsWritten(stack.databaseUrl, stack.signal)) - rowsBefore;
  return {
    pkg,
    figures: {
      jobId: created.id,
      status: job.status,
      counts: job.counts,
      courierMs,
      startedLateMs: created.lateMs,
      fleetInstalls: { finished: installs.finished, failed: installs.failed, repeated },
      series: sampler.points,
      egress,
      workflows,
      postgresRows: { total: rows, perComputer: Math.round((rows / fleet.computers) * 100) / 100 },
      cpuSeconds: cpu,
    },
  };
}
