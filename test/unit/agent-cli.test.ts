/**
 * Starting agents: the command line (its output, its exit codes, --host, --advertise-url and --ui-port),
 * enrolment with the managing server, which an agent keeps trying until the server answers, and the
 * identity it keeps: its token proves its name at the next start, and it pins the server's key.
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { systemClock, type FetchLike } from '../../agent/deps.js';
import { keyFingerprint, loadOrCreateServerKey } from '../../trust/signing.js';
import { agentArgs, startAgent as startAgentProcess } from '../../scripts/lib/courier-processes.js';
import { spawnProcess } from '../../scripts/lib/processes.js';
import { ENROLL_SECRET, FakeManagingServer, startTestAgent } from '../support/fake-managing-server.js';
import { freePort } from '../../common/ports.js';

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
      [['--role', 'relay', '--name', 'r', '--label', 'site=osaka'], '--label applies to computers only'],
      [
        ['--role', 'computer', '--name', 'x', '--server', server.url, '--enroll-secret', 's', '--port', '0', '--data-dir', base, '--label', 'site'],
        '--label: "site" is not key=value',
      ],
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

describe('identity', () => {
  it('proves its name with its own token at every start; the same name from another data folder is refused', async () => {
    const dataDir = join(base, 'pc-keeps-name');
    const first = await startTestAgent(server, { role: 'computer', name: 'pc-keeps-name', dataDir });
    await first.agent.stop();
    const identity = join(dataDir, 'identity.json');
    expect((await stat(identity)).mode & 0o777).toBe(0o600);
    const again = await startTestAgent(server, { role: 'computer', name: 'pc-keeps-name', dataDir });
    await again.agent.stop();
    expect(again.agent.id).toBe(first.agent.id);

    const impostor = startTestAgent(server, { role: 'computer', name: 'pc-keeps-name', dataDir: join(base, 'pc-impostor') });
    await expect(impostor).rejects.toThrow(/HTTP 409\): "pc-keeps-name" is already enrolled/);
  });

  it('refuses a server whose key is not the one it pinned, keeping its token, until the operator names the new key', async () => {
    const dataDir = join(base, 'pc-pinned');
    const first = await startTestAgent(server, { role: 'computer', name: 'pc-pinned', dataDir });
    await first.agent.stop();
    const otherKey = await loadOrCreateServerKey(join(base, 'other-key.pem'));
    server.offeredKey = otherKey;
    try {
      const swapped = startTestAgent(server, { role: 'computer', name: 'pc-pinned', dataDir });
      await expect(swapped).rejects.toThrow(`HTTP 409): this server signs with key ${otherKey.keyId}`);

      const rotated = await startTestAgent(server, { role: 'computer', name: 'pc-pinned', dataDir, serverKeyFingerprint: otherKey.keyId });
      await rotated.agent.stop();
      expect(rotated.agent.id).toBe(first.agent.id);
      const saved = JSON.parse(await readFile(join(dataDir, 'identity.json'), 'utf8')) as { serverPublicKey: string };
      expect(keyFingerprint(saved.serverPublicKey)).toBe(otherKey.keyId);
    } finally {
      server.offeredKey = undefined;
    }
  });

  it('refuses an enrolment answer whose key someone between swapped, and keeps the key it pinned', async () => {
    const dataDir = join(base, 'pc-between');
    const first = await startTestAgent(server, { role: 'computer', name: 'pc-between', dataDir });
    await first.agent.stop();
    const before = await readFile(join(dataDir, 'identity.json'), 'utf8');
    const intruderKey = await loadOrCreateServerKey(join(base, 'intruder-key.pem'));
    const intercepting: FetchLike = async (input, init) => {
      const answer = await fetch(input, init);
      if (!input.endsWith('/enroll')) return answer;
      const identity = (await answer.json()) as Record<string, unknown>;
      return Response.json({ ...identity, serverPublicKey: intruderKey.publicKeyPem }, { status: answer.status });
    };
    const attempt = startTestAgent(server, { role: 'computer', name: 'pc-between', dataDir, fetch: intercepting });
    await expect(attempt).rejects.toThrow(`carries signing key ${intruderKey.keyId}, but this agent pinned ${server.key.keyId}: refusing it`);
    expect(await readFile(join(dataDir, 'identity.json'), 'utf8')).toBe(before);
  });

  it('trusts at its first enrolment only the key --server-key-fingerprint names', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const attempt = startTestAgent(server, { role: 'computer', name: 'pc-fingerprint', dataDir: join(base, 'pc-fingerprint'), serverKeyFingerprint: wrong });
    await expect(attempt).rejects.toThrow(`HTTP 409): this server signs with key ${server.key.keyId}`);
    const right = await startTestAgent(server, {
      role: 'computer',
      name: 'pc-fingerprint-ok',
      dataDir: join(base, 'pc-fingerprint-ok'),
      serverKeyFingerprint: server.key.keyId,
    });
    await right.agent.stop();
    expect(right.agent.id).toBe(server.idOf('pc-fingerprint-ok'));
  });
});
