/**
 * Offer jobs end to end with real agents: users choose through their agent's self-service api, the agent
 * passes each choice to the managing server with its own token, and the job's batch workflow acts on it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack, targetStates, type RunningAgent } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

let stack: TestStack;
let pkg: { id: string };
const computers = ['pc-1', 'pc-2', 'pc-3', 'pc-4'];

async function job(id: string) {
  return (await stack.request('GET', `/jobs/${id}`)).body;
}

async function offersOn(agent: RunningAgent) {
  const response = await fetch(`${agent.pageUrl}/api/offers`);
  return ((await response.json()) as { offers: { jobId: string; state: string }[] }).offers;
}

async function choose(agent: RunningAgent, jobId: string, choice: 'install' | 'decline') {
  const response = await fetch(`${agent.pageUrl}/api/offers/${jobId}/choice`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ choice }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function tokenOf(agent: RunningAgent): Promise<string> {
  return (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { token: string }).token;
}

beforeAll(async () => {
  stack = await TestStack.start();
  await stack.startAgent({ role: 'relay', name: 'relay-1' });
  for (const [index, name] of computers.entries()) {
    await stack.startAgent({ role: 'computer', name, page: true, ...(index < 2 && { relay: 'relay-1' }) });
  }
  await stack.startAgent({ role: 'computer', name: 'pc-outsider', page: true });
  const archive = await makeTarGz({ 'install.sh': 'echo chosen > "$COURIER_TARGET_DIR/editor-installed"\n' });
  const upload = await uploadPackage(stack, { name: 'editor', version: '3.1.0', installCommand: 'sh install.sh' }, archive);
  pkg = upload.body;
});

afterAll(async () => {
  await stack?.stop();
});

describe('offer job on the real stack', () => {
  it('two users install, one declines, one never answers and ends expired', async () => {
    const deadline = new Date(Date.now() + 25_000).toISOString();
    const created = await stack.request('POST', '/jobs', {
      type: 'offer',
      packageId: pkg.id,
      targets: { computers },
      deadline,
    });
    expect(created.status).toBe(201);
    const jobId: string = created.body.id;
    const agent = (name: string) => stack.agents.get(name)!;

    await eventually(async () => (Object.values(targetStates(await job(jobId))).every((s) => s === 'offered') ? true : undefined), 20_000, 'offers');
    for (const name of computers) expect((await offersOn(agent(name))).map((offer) => offer.jobId)).toContain(jobId);

    expect((await choose(agent('pc-1'), jobId, 'install')).status).toBe(202);
    expect((await choose(agent('pc-3'), jobId, 'install')).status).toBe(202);
    expect((await choose(agent('pc-2'), jobId, 'decline')).status).toBe(202);

    const duplicate = await choose(agent('pc-2'), jobId, 'install');
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('already_decided');

    // A computer may choose only for itself: another computer's token is refused for this job.
    const outsider = await fetch(`${stack.apiUrl}/api/v1/jobs/${jobId}/choices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenOf(agent('pc-outsider'))}`, 'content-type': 'application/json' },
      body: JSON.stringify({ choice: 'install' }),
    });
    expect(outsider.status).toBe(403);

    await eventually(
      async () => {
        const body = await job(jobId);
        return body.status === 'completed' ? body : undefined;
      },
      60_000,
      'the offer job to finish after its deadline',
    );
    const done = await job(jobId);
    expect(targetStates(done)).toEqual({ 'pc-1': 'installed', 'pc-2': 'declined', 'pc-3': 'installed', 'pc-4': 'expired' });
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(deadline));
    expect(existsSync(join(agent('pc-1').dataDir, 'root', 'editor-installed'))).toBe(true);
    expect(existsSync(join(agent('pc-2').dataDir, 'root', 'editor-installed'))).toBe(false);
    expect(existsSync(join(agent('pc-4').dataDir, 'root', 'editor-installed'))).toBe(false);

    const late = await choose(agent('pc-4'), jobId, 'install');
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/expired/);
    expect((await offersOn(agent('pc-4'))).filter((offer) => offer.jobId === jobId && offer.state === 'open')).toEqual([]);
  });

  it('cancelling an offer job takes the offer off every page and ends undecided computers cancelled', async () => {
    const created = await stack.request('POST', '/jobs', { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-3', 'pc-4'] } });
    const jobId: string = created.body.id;
    await eventually(async () => (Object.values(targetStates(await job(jobId))).every((s) => s === 'offered') ? true : undefined), 20_000, 'offers');
    expect((await offersOn(stack.agents.get('pc-4')!)).some((offer) => offer.jobId === jobId)).toBe(true);

    expect((await stack.request('POST', `/jobs/${jobId}/cancel`)).status).toBe(202);
    const cancelled = await eventually(async () => {
      const body = await job(jobId);
      return body.status === 'cancelled' ? body : undefined;
    });
    expect(targetStates(cancelled)).toEqual({ 'pc-3': 'cancelled', 'pc-4': 'cancelled' });
    for (const name of ['pc-3', 'pc-4']) {
      expect((await offersOn(stack.agents.get(name)!)).some((offer) => offer.jobId === jobId && offer.state === 'open')).toBe(false);
    }
  });
});
