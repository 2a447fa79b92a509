/**
 * Step 5 of a run: a transfer job of a package no relay holds yet to every relay, so each really fetches
 * it: its time from execution time to end, and the managing server's egress for it. With a relay
 * bandwidth limit, every relay is limited first, and the rate the slowest got shows the limit holding.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TransferFigures } from './figures.js';
import { egressOf, phaseTimeoutMs } from './install-phase.js';
import { createJob, describeCounts, hasEnded, leadMsFor, listAll, readJob, uploadRandomPackage, watchJob } from './jobs.js';
import type { BenchLog, BenchStack } from './stack.js';

export async function transferPhase(
  stack: BenchStack,
  fleet: { computers: number; relays: number; sizeBytes: number; installMs: number },
  log: BenchLog,
  relayBandwidth?: number,
): Promise<TransferFigures> {
  if (relayBandwidth !== undefined) {
    const relays = await listAll<{ id: string }>(stack, '/relays');
    for (const relay of relays) await stack.request('PATCH', `/relays/${relay.id}`, { bandwidthLimit: relayBandwidth });
    log(`transfer: every relay limited to ${relayBandwidth} bytes/s`);
  }
  const pkg = await uploadRandomPackage(stack, 'bench-transfer', fleet.sizeBytes, fleet.installMs);
  // Only relays are targets, but the api writes as quickly either way: a short lead is enough.
  const created = await createJob(stack, 'transfer', pkg.id, leadMsFor(0));
  log(`transfer job ${created.id} created; it starts in ${((created.start - Date.now()) / 1000).toFixed(1)} s`);
  await sleep(Math.max(0, created.start - Date.now()), undefined, { signal: stack.signal });
  const { job, at } = await watchJob(stack, created.id, hasEnded, {
    timeoutMs: phaseTimeoutMs(fleet.relays),
    progress: (view) => log(`transfer: ${describeCounts(view.counts)}`),
  });
  const ms = (job.finishedAt ? Date.parse(job.finishedAt) : at) - created.start;
  log(`transfer job ${job.status} in ${(ms / 1000).toFixed(1)} s: ${describeCounts(job.counts)}`);
  const { targets } = await readJob(stack, created.id, Math.min(10_000, fleet.relays));
  return {
    jobId: created.id,
    status: job.status,
    ms,
    relayStates: Object.fromEntries(targets.map((target) => [target.name, target.state])),
    egress: await egressOf(stack, pkg, fleet.relays),
    ...(relayBandwidth !== undefined && { bandwidth: { limit: relayBandwidth, slowestRelayRate: pkg.size / (ms / 1000) } }),
  };
}
