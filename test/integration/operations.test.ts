/**
 * What an operator runs and watches. The production shape: `npm run build` makes compiled JavaScript that
 * runs without tsx (the api and the worker from dist/ carry a job to its end, the worker on the workflow
 * bundle made at build time), every program the image and the compose file start exists in the build, and
 * docker-compose.yml is a valid compose file (Debian's docker-compose, which needs no engine). And the
 * metrics Prometheus scrapes from that api and worker after the job, with the metrics token, and the
 * structured logs every process wrote: JSON lines with the job, its workflow and the agent, and no token
 * or secret anywhere in them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ADMIN_TOKEN, ENROLL_SECRET, TestStack } from '../support/stack.js';

const run = promisify(execFile);
const METRICS_TOKEN = 'metrics-token-for-the-scraper';
const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
let stack: TestStack;
let packageSize: number;
let jobId: string;
let logDir: string;

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: root, maxBuffer: 16 * 2 ** 20 });
  logDir = await mkdtemp(join(tmpdir(), 'courier-logs-'));
  // At debug, so that the agents' routine requests are logged too, and checked for secrets.
  stack = await TestStack.start({ source: { built: dist }, env: { COURIER_METRICS_TOKEN: METRICS_TOKEN, COURIER_LOG_LEVEL: 'debug' }, logDir });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (logDir) await rm(logDir, { recursive: true, force: true });
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
    await stack.startAgent({ role: 'relay', name: 'relay-built' });
    await stack.startAgent({ role: 'computer', name: 'pc-built', relay: 'relay-built' });
    const content = await makeTarGz({ 'install.sh': 'sleep 1; echo installed by the build\n' });
    const pkg = await uploadPackage(stack, { name: 'built', version: '1.0', installCommand: 'sh install.sh' }, content);
    expect(pkg.status).toBe(201);
    packageSize = pkg.body.size;
    const created = await stack.request('POST', '/jobs', { type: 'install', packageId: pkg.body.id, targets: { computers: ['pc-built'] } });
    expect(created.status).toBe(201);
    jobId = created.body.id;
    const job = await stack.finishedJob(jobId);
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

/** A scrape's samples: `name{labels}` → value. */
async function scrape(url: string, token?: string): Promise<Map<string, number>> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

describe('metrics after the job', () => {
  it("api: jobs by type and status, reports received, bytes served and the install's duration", async () => {
    const samples = await scrape(`${stack.apiUrl}/metrics`, METRICS_TOKEN);
    expect(samples.get('courier_jobs{type="install",status="completed"}')).toBe(1);
    expect(samples.get('courier_agent_reports_total{state="installed"}')).toBeGreaterThanOrEqual(1);
    // The relay fetched the package from the managing server; its computer fetched it from the relay.
    expect(samples.get('courier_package_bytes_served_total{kind="relay"}')).toBe(packageSize);
    expect(samples.has('courier_package_bytes_served_total{kind="computer"}')).toBe(false);
    expect(samples.get('courier_install_duration_seconds_count{outcome="installed"}')).toBe(1);
    expect(samples.get('courier_install_duration_seconds_sum{outcome="installed"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('api: on loopback a scraper needs no token; the metrics token opens nothing else', async () => {
    // The stack's api listens on 127.0.0.1; on a network address it asks for a token (test/integration/access.test.ts).
    expect((await scrape(`${stack.apiUrl}/metrics`)).get('courier_jobs{type="install",status="completed"}')).toBe(1);
    expect((await fetch(`${stack.apiUrl}/api/v1/jobs`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(401);
  });

  it("worker: order round trips, and the Temporal SDK's own metrics in the same scrape", async () => {
    const samples = await scrape(`http://127.0.0.1:${stack.env.COURIER_WORKER_METRICS_PORT}/metrics`);
    expect(samples.get('courier_order_round_trip_seconds_count{kind="install",outcome="answered"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('courier_order_round_trip_seconds_count{kind="store",outcome="answered"}')).toBeGreaterThanOrEqual(1);
    const sdk = [...samples.keys()].filter((name) => name.startsWith('temporal_'));
    expect(sdk.some((name) => name.startsWith('temporal_workflow_completed'))).toBe(true);
    expect(sdk.some((name) => name.startsWith('temporal_activity_execution_latency'))).toBe(true);
  });
});

describe('logs', () => {
  const WRONG_TOKEN = 'a-wrong-token-someone-tried';

  /** Every process's output: file name → its lines. */
  async function logs(): Promise<Map<string, string[]>> {
    const files = await readdir(logDir);
    return new Map(await Promise.all(files.map(async (file) => [file, (await readFile(join(logDir, file), 'utf8')).split('\n').filter(Boolean)] as const)));
  }

  /** The JSON lines of one process's log. */
  async function entriesOf(file: string): Promise<Record<string, unknown>[]> {
    const lines = (await logs()).get(file) ?? [];
    return lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('are JSON lines carrying the job, its workflow and who called', async () => {
    expect((await fetch(`${stack.apiUrl}/api/v1/jobs`, { headers: { authorization: `Bearer ${WRONG_TOKEN}` } })).status).toBe(401);
    const api = await entriesOf('api.log');
    expect(api.find((entry) => entry.jobId === jobId && entry.caller === 'admin')).toMatchObject({ workflowId: `job-${jobId}`, name: 'api' });
    const computer = (await stack.request('GET', '/computers/pc-built')).body as { id: string };
    // An agent's request is routine: logged at debug (20).
    expect(api.find((entry) => entry.jobId === jobId && entry.caller === 'computer')).toMatchObject({ agent: computer.id, level: 20 });
    expect(api.find((entry) => (entry.res as { statusCode?: number } | undefined)?.statusCode === 401)).toMatchObject({ level: 40 });
    const agent = await entriesOf('pc-built.log');
    expect(agent.find((entry) => (entry.req as { url?: string } | undefined)?.url === '/orders')).toMatchObject({ agent: 'pc-built', role: 'computer' });
    expect((await entriesOf('worker.log')).some((entry) => entry.name === 'worker')).toBe(true);
  });

  it('never hold a token or a secret', async () => {
    const identities = await Promise.all(
      ['relay-built', 'pc-built'].map(async (name) => JSON.parse(await readFile(join(stack.agents.get(name)!.dataDir, 'identity.json'), 'utf8')) as { token: string }),
    );
    const secrets = [ADMIN_TOKEN, ENROLL_SECRET, METRICS_TOKEN, WRONG_TOKEN, ...identities.map((identity) => identity.token)];
    const all = await logs();
    expect([...all.keys()].sort()).toEqual(['api.log', 'pc-built.log', 'relay-built.log', 'worker.log']);
    for (const [file, lines] of all) {
      for (const secret of secrets) expect([file, lines.filter((line) => line.includes(secret))]).toEqual([file, []]);
      expect([file, lines.filter((line) => /authorization|x-courier-agent-token|x-courier-ticket/i.test(line))]).toEqual([file, []]);
    }
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
