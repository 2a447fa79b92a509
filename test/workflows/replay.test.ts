/**
 * Replays recorded histories of real runs against today's workflow code: a change that would make running
 * jobs non-deterministic fails here, before it reaches a worker with jobs in flight. Record new histories
 * with `COURIER_RECORD_HISTORIES=1 npx vitest run test/workflows/install-job.test.ts`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { historiesDir, workflowsPath } from '../support/temporal.js';

const histories = (await readdir(historiesDir)).filter((file) => file.endsWith('.json'));

describe('recorded workflow histories', () => {
  it('are there to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories)('%s replays against the current workflow code', async (file) => {
    const history: unknown = JSON.parse(await readFile(join(historiesDir, file), 'utf8'));
    await expect(Worker.runReplayHistory({ workflowsPath }, history, file)).resolves.toBeUndefined();
  });
});
