/**
 * Agent identity on the real stack (DESIGN §7 "Identity"): the enrolment secret alone cannot take over an
 * enrolled name, an admin's reset frees it, a rotated secret replaces the old one at once, a server whose
 * signing key changed is refused by the agents that pinned the old one, and every step is in the audit log.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ENROLL_SECRET, TestStack } from '../support/stack.js';

let stack: TestStack;
let packageId: string;

beforeAll(async () => {
  stack = await TestStack.start();
  const archive = await makeTarGz({ 'install.sh': 'echo installed\n' });
  const upload = await uploadPackage(stack, { name: 'identity', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
  expect(upload.status).toBe(201);
  packageId = upload.body.id;
});

afterAll(async () => {
  await stack?.stop();
});

interface Answer {
  status: number;
  body: any;
}

/** POST /enroll with `secret`, and an agent token when given. */
async function enrol(body: Record<string, unknown>, secret: string, agentToken?: string): Promise<Answer> {
  const response = await fetch(`${stack.apiUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${secret}`,
      'content-type': 'application/json',
      ...(agentToken && { 'x-courier-agent-token': agentToken }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Whether `token` still opens an agent route. */
async function tokenWorks(token: string): Promise<boolean> {
  const response = await fetch(`${stack.apiUrl}/api/v1/packages/${packageId}/content`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status !== 401;
}

const pc = (name: string) => ({ role: 'computer', name, url: 'http://127.0.0.1:9' });

describe('identity', () => {
  it('refuses to enrol an enrolled name with the secret alone, and keeps the agent it belongs to working', async () => {
    const agent = await stack.startAgent({ role: 'computer', name: 'pc-owned' });
    const { body: owner } = await stack.request('GET', '/computers/pc-owned');

    const takeover = await enrol(pc('pc-owned'), ENROLL_SECRET);
    expect(takeover.status).toBe(409);
    expect(takeover.body.error.code).toBe('already_enrolled');
    expect(takeover.body.error.message).toContain(`POST /api/v1/computers/${owner.id}/reset`);
    const guessed = await enrol(pc('pc-owned'), ENROLL_SECRET, 'not-its-token');
    expect(guessed.status).toBe(409);

    // The agent itself restarts with the token it kept, under the same id, and still installs.
    await agent.process.stop();
    await stack.startAgent({ role: 'computer', name: 'pc-owned' });
    expect((await stack.request('GET', '/computers/pc-owned')).body.id).toBe(owner.id);
    const job = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { computers: ['pc-owned'] } });
    expect((await stack.finishedJob(job.body.id)).targets[0].state).toBe('installed');
  });

  it("an admin's reset revokes the agent's token and lets its name enrol afresh, under the same id", async () => {
    const first = await enrol(pc('pc-reset'), ENROLL_SECRET);
    expect(first.status).toBe(201);
    expect(await tokenWorks(first.body.token)).toBe(true);

    const asAgent = await fetch(`${stack.apiUrl}/api/v1/computers/${first.body.id}/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.body.token}` },
    });
    expect(asAgent.status).toBe(403);
    const missing = await stack.request('POST', `/computers/${crypto.randomUUID()}/reset`);
    expect(missing.status).toBe(404);

    const reset = await stack.request('POST', `/computers/${first.body.id}/reset`);
    expect(reset).toEqual({ status: 200, body: { id: first.body.id, name: 'pc-reset', revokedTokens: 1 } });
    expect(await tokenWorks(first.body.token)).toBe(false);

    // The revoked token it still sends proves nothing now: the audit log names the secret, not the agent.
    const again = await enrol(pc('pc-reset'), ENROLL_SECRET, first.body.token);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await tokenWorks(again.body.token)).toBe(true);
  });

  it('resets relays the same way', async () => {
    const relay = await enrol({ role: 'relay', name: 'relay-reset', url: 'http://127.0.0.1:9' }, ENROLL_SECRET);
    expect((await stack.request('POST', `/relays/${relay.body.id}/reset`)).status).toBe(200);
    expect(await tokenWorks(relay.body.token)).toBe(false);
    expect((await stack.request('POST', `/computers/${relay.body.id}/reset`)).status).toBe(404);
  });

  it('an agent that pinned the server key refuses a server whose key changed, and says how to accept it', async () => {
    await stack.crashApi(async () => {
      await rm(join(stack.dataDir, 'server', 'keys'), { recursive: true, force: true });
    });
    const owned = stack.agents.get('pc-owned')!;
    await owned.process.stop();
    const restart = stack.startAgent({ role: 'computer', name: 'pc-owned' });
    await expect(restart).rejects.toThrow(/this server signs with key sha256:[0-9a-f]{64}, not sha256:.*--server-key-fingerprint/);
  });

  it('a rotated enrolment secret replaces the old one at once', async () => {
    const rotated = await stack.request('POST', '/enroll-secret/rotate');
    expect(rotated.status).toBe(201);
    const secret = rotated.body.enrollSecret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await enrol(pc('pc-old-secret'), ENROLL_SECRET)).status).toBe(401);
    expect((await enrol(pc('pc-new-secret'), secret)).status).toBe(201);
    const again = await stack.request('POST', '/enroll-secret/rotate');
    expect((await enrol(pc('pc-second-secret'), secret)).status).toBe(401);
    expect((await enrol(pc('pc-second-secret'), again.body.enrollSecret)).status).toBe(201);
  });

  it('lists every admin action and enrolment in the audit log, newest first, by page', async () => {
    const { status, body } = await stack.request('GET', '/audit?limit=1000');
    expect(status).toBe(200);
    const entries = body.items as { at: string; actor: string; action: string; subject: string | null; outcome: string }[];
    const brief = entries.map(({ actor, action, subject, outcome }) => `${actor} ${action} ${subject} ${outcome}`);
    expect(brief).toEqual(
      expect.arrayContaining([
        'admin package.upload package:' + packageId + ' ok',
        'enroll-secret agent.enrol computer:pc-owned created',
        'enroll-secret agent.enrol computer:pc-owned already_enrolled',
        expect.stringMatching(/^computer:[0-9a-f-]{36} agent\.enrol computer:pc-owned re-enrolled$/),
        expect.stringMatching(/^admin job\.create job:[0-9a-f-]{36} ok$/),
        expect.stringMatching(/^admin computer\.reset computer:[0-9a-f-]{36} computer_not_found$/),
        'admin computer.reset computer:pc-reset ok',
        'enroll-secret agent.enrol computer:pc-reset re-enrolled',
        'admin enroll-secret.rotate enroll-secret ok',
        'enroll-secret agent.enrol computer:pc-owned server_key_changed',
      ]),
    );
    // Refused credentials are not recorded: anyone could fill the log with them.
    expect(brief.filter((line) => line.includes('pc-old-secret'))).toEqual([]);
    const times = entries.map((entry) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const first = await stack.request('GET', '/audit?limit=2');
    expect(first.body.items).toEqual(entries.slice(0, 2));
    const second = await stack.request('GET', `/audit?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items).toEqual(entries.slice(2, 4));
    expect((await stack.request('GET', '/audit?cursor=forged')).status).toBe(400);
    const withSecret = await fetch(`${stack.apiUrl}/api/v1/audit`, { headers: { authorization: `Bearer ${ENROLL_SECRET}` } });
    expect(withSecret.status).toBe(401);
  });

});
