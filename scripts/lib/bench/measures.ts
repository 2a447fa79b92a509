/**
 * The benchmark's instruments, each reading one thing from outside Courier's code: a sampler of a count
 * over time (for the chart), peak RSS of processes (VmHWM), rows PostgreSQL wrote (pg_stat_user_tables),
 * the job's workflows and their history lengths (Temporal visibility and describe), the api's response
 * times, what the api served of a package (its served-bytes record), and the CPU time each process used.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { forEachLimited } from '../../../common/concurrency.js';

/** [seconds since the start, count]: one sample of the chart. */
export type Point = [number, number];

/** Samples `read()` every `everyMs` from `start` on, until stop(); failed reads are skipped, not fatal. */
export class Sampler {
  readonly points: Point[] = [];
  private readonly timer: NodeJS.Timeout;
  private reading = false;

  constructor(
    private readonly start: number,
    private readonly read: () => Promise<number> | number,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
    void this.sample();
  }

  /** The last count read, 0 before the first. */
  get last(): number {
    return this.points.at(-1)?.[1] ?? 0;
  }

  /** Takes one last sample at `at` (the end of what is measured) with `count`, and stops. */
  stop(at?: number, count?: number): Point[] {
    clearInterval(this.timer);
    if (at !== undefined && count !== undefined) this.points.push([seconds(at - this.start), count]);
    return this.points;
  }

  private async sample(): Promise<void> {
    // A read slower than the interval is not stacked up behind itself.
    if (this.reading) return;
    this.reading = true;
    try {
      const count = await this.read();
      this.points.push([seconds(Math.max(0, Date.now() - this.start)), count]);
    } catch {
      // The next sample will do.
    } finally {
      this.reading = false;
    }
  }
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** Peak resident memory (VmHWM) of named processes, read every second until stop(). */
export class PeakMemory {
  private readonly peaks: Record<string, number> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: Record<string, number>) {
    this.timer = setInterval(() => void this.sample(), 1000);
  }

  /** Reads once more and returns each process's peak in bytes; a process that is gone keeps its last peak. */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sample();
    return { ...this.peaks };
  }

  private async sample(): Promise<void> {
    await Promise.all(
      Object.entries(this.pids).map(async ([name, pid]) => {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const kib = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
        this.peaks[name] = Math.max(this.peaks[name] ?? 0, kib * 1024);
      }),
    );
  }
}

/** Linux reports CPU time in USER_HZ ticks, which its ABI fixes at 100 a second. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds of process `pid` (all its threads) so far; 0 for a process that is gone. */
async function cpuSecondsOf(pid: string | number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which may hold spaces: state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / TICKS_PER_SECOND;
}

/** Every PostgreSQL process on the machine (postmaster and backends): the server is shared, not started by the run. */
async function postgresPids(): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const named = await Promise.all(pids.map(async (pid) => ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'postgres' ? pid : '')));
  return named.filter((pid) => pid !== '');
}

/**
 * CPU seconds used so far by each named process, and by PostgreSQL (all its processes). Two readings'
 * difference is what a phase cost: on a machine whose cores every process shares, it shows where a
 * phase's time went. Backends that ended between two readings are not counted, so PostgreSQL's figure is
 * a lower bound.
 */
export async function cpuSeconds(pids: Record<string, number>): Promise<Record<string, number>> {
  const used: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) used[name] = await cpuSecondsOf(pid);
  let postgresSeconds = 0;
  for (const pid of await postgresPids()) postgresSeconds += await cpuSecondsOf(pid);
  used.postgres = postgresSeconds;
  return used;
}

/** What each process used between two cpuSeconds() readings, rounded to a tenth of a second. */
export function cpuUsedBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([name, seconds]) => [name, Math.round((seconds - (before[name] ?? 0)) * 10) / 10]));
}

/**
 * Rows inserted, updated and deleted in the database's own tables so far. Backends report their counts a
 * second or so after a transaction (PostgreSQL 15 flushes statistics at most once a second, sooner when
 * idle), so this waits until two readings two seconds apart agree.
 */
export async function rowsWritten(databaseUrl: string, signal: AbortSignal): Promise<number> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const read = async (): Promise<number> => {
      const [row] = await sql<{ rows: string }[]>`
        select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint as rows from pg_stat_user_tables`;
      return Number(row?.rows ?? 0);
    };
    let previous = await read();
    for (let attempt = 0; attempt < 15; attempt += 1) {
      await sleep(2000, undefined, { signal });
      const current = await read();
      if (current === previous) return current;
      previous = current;
    }
    return previous;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A job's workflows as Temporal lists them by the job's search attribute, and the largest history among them. */
export interface JobWorkflows {
  /** Distinct workflow IDs: the job's own, its batches and its relay staging. */
  workflows: number;
  /** Executions, counting every run a workflow continued as new into. */
  runs: number;
  largestHistory: { workflowId: string; runId: string; events: number; bytes: number };
}

/** Lists the job's executions (`CourierJobId = "<id>"`) and describes each for its history length. */
export async function jobWorkflows(address: string, jobId: string): Promise<JobWorkflows> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const executions: { workflowId: string; runId: string }[] = [];
    for await (const execution of client.workflow.list({ query: `CourierJobId = "${jobId}"` })) {
      executions.push({ workflowId: execution.workflowId, runId: execution.runId });
    }
    const largest = { workflowId: '', runId: '', events: 0, bytes: 0 };
    await forEachLimited(executions, 8, async ({ workflowId, runId }) => {
      const described = await client.workflow.getHandle(workflowId, runId).describe();
      if (described.historyLength > largest.events) {
        Object.assign(largest, { workflowId, runId, events: described.historyLength, bytes: described.historySize ?? 0 });
      }
    });
    return { workflows: new Set(executions.map((execution) => execution.workflowId)).size, runs: executions.length, largestHistory: largest };
  } finally {
    await connection.close();
  }
}

/** Median wall time of `calls` sequential calls, in milliseconds. */
export async function medianMs(call: () => Promise<unknown>, calls = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
}

/** What the managing server served of a package, to relays and to computers (GET /packages/:id `servedBytes`). */
export interface Egress {
  toRelays: number;
  toComputers: number;
}

/**
 * The api records a download once its response has closed, so a reading right after a job may miss the last
 * one: read until two readings a second apart agree.
 */
export async function settledEgress(read: () => Promise<{ servedBytes: { kind: string; bytes: number }[] }>, signal: AbortSignal): Promise<Egress> {
  const total = async (): Promise<Egress> => {
    const { servedBytes } = await read();
    const sum = (kind: string) => servedBytes.filter((row) => row.kind === kind).reduce((bytes, row) => bytes + row.bytes, 0);
    return { toRelays: sum('relay'), toComputers: sum('computer') };
  };
  let previous = await total();
  for (let attempt = 0; attempt < 10; attempt += 1) {
    await sleep(1000, undefined, { signal });
    const current = await total();
    if (current.toRelays === previous.toRelays && current.toComputers === previous.toComputers) return current;
    previous = current;
  }
  return previous;
}
