/**
 * The production shape: `npm run build` makes compiled JavaScript that runs without tsx (the api and the
 * worker from dist/ carry a job to its end, the worker on the workflow bundle made at build time), every
 * program the image and the compose file start exists in the build, and docker-compose.yml is a valid
 * compose file (Debian's docker-compose, which needs no engine).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ADMIN_TOKEN, TestStack } from '../support/stack.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
let stack: TestStack;

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: root, maxBuffer: 16 * 2 ** 20 });
  stack = await TestStack.start({ source: { built: dist } });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

/** The `node <file>` programs a file starts: compose commands and the Dockerfile's CMD. */
function programsIn(text: string): string[] {
  return [...text.matchAll(/"node",\s*"([^"]+\.js)"/g)].map((match) => match[1]!);
}

describe('the production build', () => {
  it('carries the compiled programs, the migrations and the workflow bundle', () => {
    for (const file of ['api/main.js', 'worker/main.js', 'agent/main.js', 'cli/main.js', 'workflows/bundle.js', 'db/migrations/meta/_journal.json']) {
      expect([file, existsSync(join(dist, file))]).toEqual([file, true]);
    }
  });

  it('runs an install job to its end on the compiled api and worker', async () => {
    await stack.startAgent({ role: 'computer', name: 'pc-built' });
    const content = await makeTarGz({ 'install.sh': 'echo installed by the build\n' });
    const pkg = await uploadPackage(stack, { name: 'built', version: '1.0', installCommand: 'sh install.sh' }, content);
    expect(pkg.status).toBe(201);
    const created = await stack.request('POST', '/jobs', { type: 'install', packageId: pkg.body.id, targets: { computers: ['pc-built'] } });
    expect(created.status).toBe(201);
    const job = await stack.finishedJob(created.body.id);
    expect([job.status, job.counts]).toEqual(['completed', { installed: 1 }]);
  });

  it('runs the admin CLI as plain node', async () => {
    const { stdout } = await run(process.execPath, [join(dist, 'cli/main.js'), '--json', 'computers', 'list'], {
      cwd: root,
      env: { ...process.env, COURIER_URL: stack.apiUrl, COURIER_TOKEN: ADMIN_TOKEN, COURIER_CONFIG: join(dist, 'no-config.json') },
    });
    expect((JSON.parse(stdout) as { items: { name: string }[] }).items.map((computer) => computer.name)).toEqual(['pc-built']);
  });

  it('is what the image and the compose file start', async () => {
    const programs = [...programsIn(await readFile(join(root, 'Dockerfile'), 'utf8')), ...programsIn(await readFile(join(root, 'docker-compose.yml'), 'utf8'))];
    expect(programs).toEqual(expect.arrayContaining(['dist/api/main.js', 'dist/worker/main.js', 'dist/agent/main.js']));
    for (const program of programs) expect([program, existsSync(join(root, program))]).toEqual([program, true]);
  });
});

describe('docker-compose.yml', () => {
  const secrets = { POSTGRES_PASSWORD: 'p', COURIER_ADMIN_TOKEN: 't', COURIER_ENROLL_SECRET: 's' };

  it('is a valid compose file whose Temporal is the server image on its own schema, not auto-setup', async () => {
    const { stdout } = await run('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { env: { ...process.env, ...secrets } });
    expect(stdout).toContain('temporalio/server:');
    expect(stdout).toContain('/deploy/temporal-schema.sh');
    expect(stdout).not.toContain('auto-setup');
    expect(stdout).not.toContain('tsx');
  });

  it('refuses to start without its secrets', async () => {
    const { POSTGRES_PASSWORD: _, ...rest } = { ...process.env, ...secrets };
    await expect(run('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], { env: rest })).rejects.toThrow(/POSTGRES_PASSWORD/);
  });
});
