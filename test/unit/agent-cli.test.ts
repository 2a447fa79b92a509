/**
 * Starting agents: the command line (its output, its exit codes, --host, --advertise-url and --ui-port) and
 * enrolment with the managing server, which an agent keeps trying until the server answers.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { systemClock } from '../../agent/deps.js';
import { agentArgs, startAgent as startAgentProcess } from '../../scripts/lib/courier-processes.js';
import { spawnProcess } from '../../scripts/lib/processes.js';
import { ENROLL_SECRET, FakeManagingServer, startTestAgent } from '../support/fake-managing-server.js';
import { freePort } from '../../scripts/lib/ports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let base: string;
let server: FakeManagingServer;

/** An address of this machine other than loopback, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address?.family === 'IPv4' && !address.internal)?.address;

function runCli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], { cwd: root, encoding: 'utf8' });
}

async function reachable(url: string): Promise<boolean> {
  return fetch(url).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-cli-'));
});

afterAll(async () => {
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('command line', () => {
  it('prints its URL once enrolled, then its self-service page on loopback, and stops cleanly on SIGTERM', async () => {
    const { process: agent, url } = await startAgentProcess({
      role: 'computer',
      name: 'pc-cli',
      serverUrl: server.url,
      enrollSecret: ENROLL_SECRET,
      dataDir: join(base, 'pc-cli'),
      uiPort: 0,
    });
    const [, pageUrl] = await agent.waitForLine(/self-service page on (\S+)$/);
    expect(agent.recent).toContain(`courier agent pc-cli (computer) listening on ${url}`);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.enrolled.get('pc-cli')?.url).toBe(url);
    expect(agent.recent.filter((line) => line.includes('self-service page'))).toEqual([`courier agent pc-cli self-service page on ${pageUrl}`]);
    expect(pageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(pageUrl).not.toBe(url);
    const page = await fetch(`${pageUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Software Center — pc-cli</title>');
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await agent.stop();
    expect(agent.child.exitCode).toBe(0);
  });

  it('enrols with --advertise-url while listening on every interface given by --host', async () => {
    const port = await freePort();
    const args = agentArgs({ role: 'relay', name: 'relay-cli', serverUrl: server.url, enrollSecret: ENROLL_SECRET, dataDir: join(base, 'relay-cli'), port });
    const agent = spawnProcess('relay-cli', process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args, '--host', '0.0.0.0', '--advertise-url', 'http://relay:4000/'], {
      cwd: root,
      env: { ...process.env, COURIER_ENROLL_SECRET: ENROLL_SECRET },
    });
    try {
      await agent.waitForLine(/listening on http:\/\/relay:4000$/);
      expect(server.enrolled.get('relay-cli')?.url).toBe('http://relay:4000');
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await agent.stop();
    }
  });

  it('exits with 2 and says why on bad arguments', () => {
    const cases: [string[], string][] = [
      [['--role', 'printer', '--name', 'x'], '--role must be relay or computer, got "printer"'],
      [['--role', 'relay', '--name', 'r', '--ui-port', '0'], '--ui-port applies to computers only'],
      [
        ['--role', 'computer', '--name', 'x', '--server', server.url, '--advertise-url', 'relay:4000'],
        '--advertise-url must be an http(s) URL, got "relay:4000"',
      ],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stdout).toBe('');
    }
  });
});

describe('listening', () => {
  it('enrols a wildcard --host as loopback, and keeps the self-service page on loopback only', async () => {
    const agent = await startTestAgent(server, {
      role: 'computer',
      name: 'pc-wildcard',
      dataDir: join(base, 'pc-wildcard'),
      listen: { host: '0.0.0.0', uiPort: 0 },
    });
    try {
      expect(agent.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.enrolled.get('pc-wildcard')?.url).toBe(agent.url);
      expect(agent.pageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${agent.pageUrl}/api/offers`)).status).toBe(200);
      if (outsideAddress) {
        // Orders are taken on every interface; the page answers nobody but this computer.
        expect(await reachable(`http://${outsideAddress}:${new URL(agent.url).port}/health`)).toBe(true);
        expect(await reachable(`http://${outsideAddress}:${new URL(agent.pageUrl!).port}/`)).toBe(false);
      }
    } finally {
      await agent.agent.stop();
    }
  });
});

describe('enrolment', () => {
  it("gives up with the server's message when the server refuses it", async () => {
    const attempt = startTestAgent(server, { role: 'computer', name: 'pc-bad-secret', dataDir: join(base, 'pc-bad-secret'), enrollSecret: 'not the secret' });
    await expect(attempt).rejects.toThrow(/HTTP 401\): wrong enrolment secret/);
  });

  it('keeps trying while the server is unreachable, and enrols once it answers', async () => {
    const lateServer = new FakeManagingServer(server.key, base);
    const port = await freePort();
    const logged: string[] = [];
    const late = new Agent({
      role: 'computer',
      name: 'pc-early',
      dataDir: join(base, 'pc-early'),
      serverUrl: `http://127.0.0.1:${port}`,
      enrollSecret: ENROLL_SECRET,
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      log: (line) => logged.push(line),
    });
    const started = late.start({ port: 0 });
    try {
      while (!logged.some((line) => line.includes('cannot enrol'))) await sleep(20);
      expect(logged.join('\n')).not.toContain(ENROLL_SECRET);
      await lateServer.start(port);
      expect((await started).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(late.id).toBe(lateServer.idOf('pc-early'));
    } finally {
      await late.stop();
      await lateServer.stop();
    }
  });
});
