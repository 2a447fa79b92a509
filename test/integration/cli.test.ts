/**
 * The admin CLI (`courier`, cli/) as an admin runs it: the real command, a process of its own, against the
 * real stack. Upload, create and watch a job to its end in a pipe, cancel, --json for scripts, the
 * config file, and the api's error with a non-zero exit code.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz } from '../support/packages.js';
import { ADMIN_TOKEN, TestStack } from '../support/stack.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let stack: TestStack;
let folder: string;
let packageFile: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `courier` as `npx courier` would (cli/bin.mjs), in a pipe, with `env` on top of the stack's URL and token. */
function courier(args: string[], env: NodeJS.ProcessEnv = {}, command = [process.execPath, 'cli/bin.mjs']): Promise<Run> {
  const [program, ...prefix] = command as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(
      program,
      [...prefix, ...args],
      { cwd: root, env: { ...process.env, COURIER_URL: stack.apiUrl, COURIER_TOKEN: ADMIN_TOKEN, COURIER_CONFIG: join(folder, 'none.json'), ...env } },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  stack = await TestStack.start();
  folder = await mkdtemp(join(tmpdir(), 'courier-cli-'));
  packageFile = join(folder, 'hello.tar.gz');
  await writeFile(packageFile, await makeTarGz({ 'install.sh': 'echo hello from the cli\n' }));
  await stack.startAgent({ role: 'relay', name: 'relay-cli' });
  await stack.startAgent({ role: 'computer', name: 'pc-cli-1', relay: 'relay-cli' });
  await stack.startAgent({ role: 'computer', name: 'pc-cli-2', relay: 'relay-cli' });
});

afterAll(async () => {
  await stack?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('courier', () => {
  let packageId: string;

  it('runs from the checkout as npx courier, and says what it does', async () => {
    const relays = await courier(['relays', 'list'], {}, ['npx', '--no', 'courier']);
    expect(relays.code, relays.stderr).toBe(0);
    expect(relays.stdout).toMatch(/relay-cli\s*│\s*2/);
    const help = await courier(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*packages[\s\S]*jobs[\s\S]*computers[\s\S]*relays/);
  });

  it('uploads a package and lists it, as a table and as JSON', async () => {
    const upload = await courier(['--json', 'packages', 'upload', packageFile, '--name', 'hello', '--version', '1.0.0', '--install-command', 'sh install.sh']);
    expect(upload.code).toBe(0);
    packageId = (JSON.parse(upload.stdout) as { id: string }).id;
    const list = await courier(['packages', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(packageId);
    expect(list.stdout).toMatch(/hello\s*│\s*1\.0\.0/);
  });

  it('creates an install job and watches it to its end in a pipe, a line per change', async () => {
    const run = await courier(['jobs', 'create', '--type', 'install', '--package', packageId, '--computer', 'pc-cli-1', '--relay', 'relay-cli', '--watch']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^job [0-9a-f-]{36} created$/);
    expect(lines.at(-1)).toBe('completed 100% | installed 2');
    // A line per change, never the same twice in a row, and no terminal control characters in a pipe.
    expect(lines.slice(1).every((line, index, all) => index === 0 || line !== all[index - 1])).toBe(true);
    expect(run.stdout).not.toContain('\u001b');

    const jobId = /^job ([0-9a-f-]{36})/.exec(lines[0]!)![1]!;
    const shown = await courier(['--json', 'jobs', 'show', jobId]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: jobId, status: 'completed', counts: { installed: 2 } });
    const table = await courier(['jobs', 'show', jobId]);
    expect(table.stdout).toMatch(/pc-cli-1\s*│\s*computer\s*│\s*installed/);
    const computer = await courier(['computers', 'show', 'pc-cli-2']);
    expect(computer.stdout).toMatch(/hello\s*│\s*1\.0\.0/);
  });

  it('labels a computer and lists computers by label', async () => {
    expect((await courier(['computers', 'label', 'pc-cli-2', 'site=osaka', 'ring=canary'])).code).toBe(0);
    expect((await courier(['computers', 'label', 'pc-cli-2', 'ring-'])).stdout).toMatch(/labels\s*│\s*site=osaka\s*│/);
    const listed = await courier(['--json', 'computers', 'list', '--label', 'site=osaka']);
    expect((JSON.parse(listed.stdout) as { items: { name: string; labels: unknown }[] }).items).toEqual([
      expect.objectContaining({ name: 'pc-cli-2', labels: { site: 'osaka' } }),
    ]);
    const bad = await courier(['computers', 'label', 'pc-cli-2', 'nonsense']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('neither key=value nor key-')]);
  });

  it('creates a rollout for the computers carrying a label, and says when there is nothing to resume', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const args = ['--package', packageId, '--label', 'site=osaka', '--wave', '1', '--wave', '50%', '--pause-seconds', '5', '--at', at];
    const created = await courier(['--json', 'jobs', 'create', '--type', 'install', ...args]);
    expect(created.code).toBe(0);
    const job = JSON.parse(created.stdout) as { id: string; rollout: unknown; targets: { name: string }[] };
    expect(job.rollout).toEqual({ waves: [1, '50%'], pauseSeconds: 5, failureThreshold: null });
    expect(job.targets.map((target) => target.name)).toEqual(['pc-cli-2']);
    const resumed = await courier(['jobs', 'resume', job.id]);
    expect([resumed.code, resumed.stderr]).toEqual([1, expect.stringContaining('job_not_paused')]);
    expect((await courier(['jobs', 'cancel', job.id])).code).toBe(0);
    const usage = await courier(['jobs', 'create', '--type', 'install', '--package', packageId, '--all', '--pause-seconds', '5']);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('give its waves with --wave')]);
  });

  it('creates a dynamic job for a label, which shows how many computers joined', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const created = await courier(['--json', 'jobs', 'create', '--type', 'install', '--package', packageId, '--label', 'site=osaka', '--dynamic', '--at', at]);
    expect(created.code).toBe(0);
    const job = JSON.parse(created.stdout) as { id: string; joined: number | null };
    expect(job.joined).toBe(0);
    expect((await courier(['jobs', 'cancel', job.id])).code).toBe(0);
    const usage = await courier(['jobs', 'create', '--type', 'install', '--package', packageId, '--all', '--dynamic']);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('give them with --label')]);
  });

  it('defines a maintenance window by name, creates a job that names it, lists and deletes it', async () => {
    const set = await courier(['windows', 'set', 'cli-nights', '--start', '22:00', '--end', '06:00', '--timezone', 'Asia/Tokyo', '--day', 'mon', '--day', 'fri']);
    expect([set.code, set.stdout]).toEqual([0, expect.stringContaining('mon,fri 22:00-06:00 Asia/Tokyo')]);
    const at = new Date(Date.now() + 3600_000).toISOString();
    const args = ['--package', packageId, '--all', '--window', 'cli-nights', '--download-outside-window', '--at', at];
    const created = await courier(['--json', 'jobs', 'create', '--type', 'install', ...args]);
    expect(created.code).toBe(0);
    const job = JSON.parse(created.stdout) as { id: string; windowName: string; downloadOutsideWindow: boolean };
    expect([job.windowName, job.downloadOutsideWindow]).toEqual(['cli-nights', true]);
    expect((await courier(['jobs', 'cancel', job.id])).code).toBe(0);
    expect((await courier(['windows', 'list'])).stdout).toMatch(/cli-nights.*mon,fri 22:00-06:00 Asia\/Tokyo/);
    expect((await courier(['windows', 'delete', 'cli-nights'])).stdout).toBe('window cli-nights deleted\n');
    const gone = await courier(['windows', 'delete', 'cli-nights']);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringContaining('window_not_found')]);
  });

  it('cancels a scheduled job, and lists jobs newest first', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const created = await courier(['--json', 'jobs', 'create', '--type', 'install', '--package', packageId, '--all', '--at', at]);
    expect(created.code).toBe(0);
    const jobId = (JSON.parse(created.stdout) as { id: string }).id;
    const cancelled = await courier(['jobs', 'cancel', jobId]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`job ${jobId} (cancelled|is being cancelled)`));
    const watched = await courier(['jobs', 'watch', jobId]);
    expect(watched.code).toBe(1);
    expect(watched.stderr).toContain(`job ${jobId} ended cancelled`);
    const list = await courier(['--json', 'jobs', 'list', '--limit', '1']);
    expect((JSON.parse(list.stdout) as { items: { id: string }[] }).items.map((job) => job.id)).toEqual([jobId]);
  });

  it("exits 1 with the api's message when the api refuses, and 2 on bad usage", async () => {
    const missing = await courier(['jobs', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^courier: .*\(job_not_found\)\n$/);
    const refused = await courier(['jobs', 'create', '--type', 'install', '--package', packageId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('name at least one computer, relay or label, or set all: true');
    expect((await courier(['jobs', 'create', '--type', 'reboot', '--package', packageId])).code).toBe(2);
    const noToken = await courier(['relays', 'list'], { COURIER_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no admin token');
    const wrongToken = await courier(['relays', 'list'], { COURIER_TOKEN: 'not-the-token' });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('(invalid_token)');
  });

  it('reads the api and the token from its config file', async () => {
    const config = join(folder, 'config.json');
    await writeFile(config, JSON.stringify({ url: stack.apiUrl, token: ADMIN_TOKEN }));
    const relays = await courier(['relays', 'list'], { COURIER_URL: '', COURIER_TOKEN: '', COURIER_CONFIG: config });
    expect(relays.code).toBe(0);
    expect(relays.stdout).toMatch(/relay-cli\s*│\s*2/);
  });
});
