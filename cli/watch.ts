/**
 * `courier jobs watch`: follows a job until it ends. On a terminal, a progress bar with the counts by
 * state (cli-progress); in a pipe or a log, one line each time the counts change, so nothing is lost to
 * carriage returns. Exits 0 when the job completed, 1 when it ended any other way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { ApiClient } from './api-client.js';
import { hasEnded, type JobView } from './job-view.js';
import { countsLine } from './output.js';

/** As often as the job view changes in a way a person would notice. */
const WATCH_EVERY_MS = 1000;

/** Follows job `id` until it ends and returns its last view. */
export async function watchJob(api: ApiClient, id: string, out: NodeJS.WriteStream = process.stdout): Promise<JobView> {
  const path = `/jobs/${encodeURIComponent(id)}?targetsLimit=1`;
  const bar = out.isTTY ? new SingleBar({ format: '{bar} {percentage}% | {status} | {counts}', stream: out, hideCursor: true }) : undefined;
  let job = await api.get<JobView>(path);
  bar?.start(100, job.progress, { status: job.status, counts: countsLine(job.counts) });
  let shown = '';
  for (;;) {
    const line = `${job.status} ${job.progress}% | ${countsLine(job.counts)}`;
    if (bar) bar.update(job.progress, { status: job.status, counts: countsLine(job.counts) });
    else if (line !== shown) out.write(`${line}\n`);
    shown = line;
    if (hasEnded(job)) break;
    await sleep(WATCH_EVERY_MS);
    job = await api.get<JobView>(path);
  }
  bar?.stop();
  return job;
}
