/**
 * What the benchmark does through Courier's REST API, as an admin would: upload a package of random bytes,
 * list the inventory, create a job scheduled a little ahead, and watch a job until a condition holds.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchStack } from './stack.js';

/** A package as the api answers for it. */
export interface UploadedPackage {
  id: string;
  sha256: string;
  size: number;
}

/** GET /jobs/:id, the fields the benchmark reads. */
export interface JobView {
  id: string;
  status: string;
  scheduledAt: string;
  finishedAt: string | null;
  counts: Record<string, number>;
  targets: { kind: string; id: string; name: string; state: string; detail: string | null }[];
}

/** A job created and the moment it was asked to start. */
export interface CreatedJob {
  id: string;
  /** Its execution time, or the moment POST /jobs answered when that came later (then `lateMs` > 0). */
  start: number;
  lateMs: number;
}

const finalStatuses = new Set(['completed', 'completed_with_errors', 'cancelled', 'failed']);

/** Whether a job has ended. */
export function hasEnded(job: Pick<JobView, 'status'>): boolean {
  return finalStatuses.has(job.status);
}

/** Uploads a single-file package of `size` random bytes; its install command is simulated by the fleet anyway. */
export async function uploadRandomPackage(stack: BenchStack, name: string, size: number, installMs: number): Promise<UploadedPackage> {
  const form = new FormData();
  const timeoutSeconds = Math.max(600, Math.ceil(installMs / 1000) + 60);
  form.append('manifest', JSON.stringify({ name, version: '1.0.0', installCommand: 'true', timeoutSeconds }));
  form.append('content', new Blob([randomBytes(size)]), `${name}.bin`);
  const response = await fetch(`${stack.apiUrl}/api/v1/packages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}` },
    body: form,
    signal: stack.signal,
  });
  const body = (await response.json()) as UploadedPackage;
  if (response.status !== 201) throw new Error(`uploading ${name}: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Items per inventory request: the api's default page. */
const PAGE = 10_000;

/** Every item of an inventory list, page by page, following each page's `nextCursor`. */
export async function listAll<T>(stack: BenchStack, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const after: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await stack.request<{ items: T[]; nextCursor: string | null }>('GET', `${path}?limit=${PAGE}${after}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return items;
}

/**
 * Creates a job on every target, scheduled `leadMs` ahead: far enough that writing its targets is done by
 * then, so the job's time is measured from a moment Courier chose to act, not from the request.
 */
export async function createJob(
  stack: BenchStack,
  type: string,
  packageId: string,
  leadMs: number,
  downloadsPerRelay?: number,
): Promise<CreatedJob> {
  const scheduledAt = Date.now() + leadMs;
  const job = await stack.request<{ id: string }>('POST', '/jobs', {
    type,
    packageId,
    targets: { all: true },
    scheduledAt: new Date(scheduledAt).toISOString(),
    ...(downloadsPerRelay === undefined ? {} : { downloadsPerRelay }),
  });
  const answered = Date.now();
  return { id: job.id, start: Math.max(scheduledAt, answered), lateMs: Math.max(0, answered - scheduledAt) };
}

/** How far ahead jobs are scheduled: a few seconds, and more for fleets whose target rows take longer to write. */
export function leadMsFor(computers: number): number {
  return 5000 + Math.ceil(computers / 5000) * 1000;
}

/** GET /jobs/:id with `targetsLimit` targets (1 when only counts are wanted). */
export function readJob(stack: BenchStack, jobId: string, targetsLimit = 1): Promise<JobView> {
  return stack.request<JobView>('GET', `/jobs/${jobId}?targetsLimit=${targetsLimit}`);
}

/**
 * How often a run reads the job it watches: as often as an admin's watch would refresh. Each read counts
 * the job's targets by state (about 12 ms of PostgreSQL at 10,000 targets), which loads the very run it
 * measures; a job's end time comes from its `finishedAt`, not from when a read saw it.
 */
const WATCH_EVERY_MS = 1000;

/**
 * Polls the job every `everyMs` until `until` holds, calling `progress` every 10 s, and returns the view that
 * satisfied it with the moment it was read. Gives up with an error after `timeoutMs`.
 */
export async function watchJob(
  stack: BenchStack,
  jobId: string,
  until: (job: JobView) => boolean,
  options: { everyMs?: number; timeoutMs: number; progress: (job: JobView) => void },
): Promise<{ job: JobView; at: number }> {
  const started = Date.now();
  let shown = started;
  for (;;) {
    const job = await readJob(stack, jobId);
    const at = Date.now();
    if (until(job)) return { job, at };
    if (at - shown >= 10_000) {
      shown = at;
      options.progress(job);
    }
    if (at - started > options.timeoutMs) throw new Error(`job ${jobId} did not get there within ${options.timeoutMs} ms: ${JSON.stringify(job.counts)}`);
    await sleep(options.everyMs ?? WATCH_EVERY_MS, undefined, { signal: stack.signal });
  }
}

/** `counts` as one short line: `installed 1200, downloading 80`. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([state, count]) => `${state} ${count}`)
    .join(', ');
}

/** How many of a job's targets to read per state when saying why they ended there. */
const EXAMPLES_PER_STATE = 200;

/**
 * Why the job's targets in any state but `wanted` got there: per state, its details with how often each
 * occurs among the first targets in that state, most frequent first. Empty when every target is `wanted`.
 */
export async function explainOutcomes(stack: BenchStack, job: JobView, wanted: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [state, count] of Object.entries(job.counts)) {
    if (state === wanted || count === 0) continue;
    const { targets } = await stack.request<JobView>('GET', `/jobs/${job.id}?state=${state}&targetsLimit=${EXAMPLES_PER_STATE}`);
    const details = new Map<string, number>();
    for (const target of targets) {
      const detail = target.detail ?? '(no detail)';
      details.set(detail, (details.get(detail) ?? 0) + 1);
    }
    const sorted = [...details].sort((a, b) => b[1] - a[1]);
    lines.push(`${count} ${state}: ${sorted.map(([detail, times]) => `${times}× ${detail}`).join('; ')}`);
  }
  return lines;
}
