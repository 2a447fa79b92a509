/**
 * The install command as the agent runs it for real (`sh -c`): what it inherits of the agent's
 * environment, and how it is stopped, by its timeout or by the agent stopping.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandRequest } from '../../agent/run-command.js';

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'courier-run-command-'));
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function request(command: string, overrides: Partial<CommandRequest> = {}): CommandRequest {
  return { command, cwd, env: { COURIER_JOB_ID: 'job-1' }, timeoutMs: 30_000, signal: new AbortController().signal, ...overrides };
}

describe('the install environment', () => {
  it("gets the order's variables and the allowlisted ones, never the agent's secrets", async () => {
    const secrets = { COURIER_ENROLL_SECRET: 'enrol-secret', COURIER_ADMIN_TOKEN: 'admin-token', DATABASE_URL: 'postgres://u:p@db/courier' };
    Object.assign(process.env, secrets);
    try {
      const result = await runCommand(request('env'));
      expect(result).toMatchObject({ outcome: 'exited', exitCode: 0 });
      const seen = new Map(result.outputTail.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      expect(seen.get('COURIER_JOB_ID')).toBe('job-1');
      expect(seen.get('PATH')).toBe(process.env.PATH);
      for (const name of Object.keys(secrets)) expect([name, seen.has(name)]).toEqual([name, false]);
      for (const value of Object.values(secrets)) expect(result.outputTail).not.toContain(value);
    } finally {
      for (const name of Object.keys(secrets)) delete process.env[name];
    }
  });
});

describe('stopping a command', () => {
  it('sends SIGTERM first, so an installer can clean up, when the agent stops', async () => {
    const stop = new AbortController();
    const running = runCommand(request("trap 'echo cleaned up; exit 3' TERM; echo started; sleep 30 & wait", { signal: stop.signal }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stoppedAt = Date.now();
    stop.abort();
    const result = await running;
    expect(result.outcome).toBe('aborted');
    expect(result.outputTail).toContain('cleaned up');
    // Ended by its own trap, well before the grace period (10 s) ran out.
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
  });

  it('kills what ignores SIGTERM once the grace period has passed, children included', async () => {
    const marker = join(cwd, 'survivor');
    const command = `trap '' TERM; (trap '' TERM; sleep 2; touch ${marker}) & sleep 30`;
    const result = await runCommand(request(command, { timeoutMs: 200, killGraceMs: 300 }));
    expect(result.outcome).toBe('timed_out');
    // Had the background child outlived the kill, it would create the marker two seconds in.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(existsSync(marker)).toBe(false);
  });
});
