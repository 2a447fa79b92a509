/**
 * Step 4 of a run: an offer job of a new package to every computer. Timed from its execution time until
 * every computer's target reads `offered`; then one user in ten chooses Install and one in ten Decline, each
 * on their own computer (the fleet forwards the choice with that agent's token, as its self-service page
 * does), and the time until the job has carried every choice out is measured.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachLimited } from '../../../common/concurrency.js';
import type { OfferChoice } from '../../../common/states.js';
import type { OfferFigures } from './figures.js';
import { phaseTimeoutMs } from './install-phase.js';
import { createJob, describeCounts, leadMsFor, listAll, uploadRandomPackage, watchJob } from './jobs.js';
import type { BenchLog, BenchStack } from './stack.js';

/** Target states that end a computer whose user chose: what it was asked, or why it could not be done. */
const carriedOut = ['installed', 'declined', 'failed', 'rejected', 'unreachable', 'conditions_not_met'];

/** Choices in flight at once: each is a request to the api, as many users clicking at once would make. */
const CHOICE_CONCURRENCY = 16;

/** Every tenth computer (by name) installs, the fifth after each of them declines: spread over relays and batches. */
export function choicesFor(names: readonly string[]): { name: string; choice: OfferChoice }[] {
  return [...names].sort().flatMap((name, index): { name: string; choice: OfferChoice }[] => {
    if (index % 10 === 0) return [{ name, choice: 'install' }];
    return index % 10 === 5 ? [{ name, choice: 'decline' }] : [];
  });
}

export async function offerPhase(
  stack: BenchStack,
  fleet: { computers: number; sizeBytes: number; installMs: number; downloadsPerRelay: number },
  log: BenchLog,
): Promise<OfferFigures> {
  const pkg = await uploadRandomPackage(stack, 'bench-offer', fleet.sizeBytes, fleet.installMs);
  const created = await createJob(stack, 'offer', pkg.id, leadMsFor(fleet.computers), fleet.downloadsPerRelay);
  log(`offer job ${created.id} created; it starts in ${((created.start - Date.now()) / 1000).toFixed(1)} s`);
  await sleep(Math.max(0, created.start - Date.now()), undefined, { signal: stack.signal });
  const timeoutMs = phaseTimeoutMs(fleet.computers);
  const progress = (view: { counts: Record<string, number> }) => log(`offer: ${describeCounts(view.counts)}`);
  const offered = await watchJob(stack, created.id, (view) => (view.counts.offered ?? 0) >= fleet.computers, { timeoutMs, progress });
  const offeredMs = offered.at - created.start;
  log(`offer: every computer reads offered ${(offeredMs / 1000).toFixed(1)} s after the execution time`);

  const names = (await listAll<{ name: string }>(stack, '/computers')).map((computer) => computer.name);
  const choices = choicesFor(names);
  const accepted = { install: 0, decline: 0, refused: 0 };
  const chosenAt = Date.now();
  await forEachLimited(choices, CHOICE_CONCURRENCY, async ({ name, choice }) => {
    const answer = await stack.fleet.choose(name, created.id, choice);
    if (answer.status === 202) {
      accepted[choice] += 1;
      return;
    }
    if (accepted.refused === 0) log(`offer: ${name}'s ${choice} was refused: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    accepted.refused += 1;
  });
  const choosingMs = Date.now() - chosenAt;
  log(`offer: ${accepted.install} installs and ${accepted.decline} declines chosen in ${(choosingMs / 1000).toFixed(1)} s`);

  const done = await watchJob(
    stack,
    created.id,
    (view) => carriedOut.reduce((sum, state) => sum + (view.counts[state] ?? 0), 0) >= accepted.install + accepted.decline,
    { timeoutMs, progress },
  );
  const carriedOutMs = done.at - chosenAt;
  log(`offer: choices carried out ${(carriedOutMs / 1000).toFixed(1)} s after the first was sent: ${describeCounts(done.job.counts)}`);
  return {
    jobId: created.id,
    offeredMs,
    choices: accepted,
    choosingMs,
    carriedOutMs,
    counts: done.job.counts,
    fleetInstalls: (await stack.fleet.installsOf(created.id)).started,
  };
}
