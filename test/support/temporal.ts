/** Temporal helpers for tests: a client on the suite's dev server and a unique task queue per file. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import { temporalCliPath } from '../../scripts/lib/temporal-dev-server.js';

export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Recorded workflow histories that every change must still replay. */
export const historiesDir = fileURLToPath(new URL('../workflows/histories', import.meta.url));

export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function connectClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return { client: new Client({ connection }), connection };
}

/**
 * Temporal connections for a workflow test file: a client, and a worker connection shared by its workers.
 * `forThisFile()` opens them before the file's tests and closes them after.
 */
export class TemporalTestConnections {
  private opened?: { client: Client; connection: Connection; workerConnection: NativeConnection };

  static forThisFile(): TemporalTestConnections {
    const connections = new TemporalTestConnections();
    beforeAll(() => connections.open());
    afterAll(() => connections.close());
    return connections;
  }

  get client(): Client {
    if (!this.opened) throw new Error('Temporal connections are opened in beforeAll');
    return this.opened.client;
  }

  private async open(): Promise<void> {
    const { client, connection } = await connectClient();
    this.opened = { client, connection, workerConnection: await NativeConnection.connect({ address: inject('temporalAddress') }) };
  }

  /** Runs `run` while a worker with these activities (and options) polls a task queue of its own. */
  async withWorker<T>(prefix: string, activities: object, run: (taskQueue: string) => Promise<T>, options: Pick<WorkerOptions, 'maxCachedWorkflows'> = {}): Promise<T> {
    const taskQueue = uniqueTaskQueue(prefix);
    const connection = this.opened?.workerConnection;
    const worker = await Worker.create({ connection, taskQueue, workflowsPath, activities, ...options });
    return worker.runUntil(run(taskQueue));
  }

  private async close(): Promise<void> {
    await this.opened?.connection.close();
    await this.opened?.workerConnection.close();
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/**
 * With COURIER_RECORD_HISTORIES=1, saves a finished run's history for test/workflows/replay.test.ts, which
 * replays it against the current workflow code so a change that would break running jobs fails CI. Without
 * `runId`, the workflow's latest run is saved.
 */
export async function recordHistory(workflowId: string, name: string, runId?: string): Promise<void> {
  if (process.env.COURIER_RECORD_HISTORIES !== '1') return;
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', inject('temporalAddress')];
  if (runId) args.push('--run-id', runId);
  const { stdout } = await promisify(execFile)(temporalCliPath(), args, { maxBuffer: 64 * 1024 * 1024 });
  await writeFile(join(historiesDir, `${name}.json`), stdout);
}
