/**
 * Offers on a real computer agent: offer and withdraw orders from the fake managing server, the
 * self-service api the page uses (listing, choosing, its cross-site guards), choices passed to the server
 * with the agent's own token, and the install the server orders after an Install choice shown on the page.
 */
import { request } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfferView } from '../../agent/offers.js';
import { FakeManagingServer, issuedNow, startTestAgent, type RunningAgent, type TestPackage } from '../support/fake-managing-server.js';
import { eventually } from '../support/temporal.js';

let base: string;
let server: FakeManagingServer;
let computer: RunningAgent;

function startComputer(name = 'pc-offers'): Promise<RunningAgent> {
  return startTestAgent(server, { role: 'computer', name, dataDir: join(base, name), listen: { uiPort: 0 } });
}

function inOneHour(): string {
  return new Date(Date.now() + 3_600_000).toISOString();
}

function offerOrder(pkg: TestPackage, jobId: string, deadline = inOneHour()): Buffer {
  return server.seal({ kind: 'offer', jobId, agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, deadline });
}

function withdrawOrder(pkg: TestPackage, jobId: string): Buffer {
  return server.seal({ kind: 'withdraw', jobId, agentId: server.idOf(computer.name), ...issuedNow(), packageId: pkg.packageId });
}

function cancelOrder(pkg: TestPackage, jobId: string): Buffer {
  return server.seal({ kind: 'cancel', jobId, agentId: server.idOf(computer.name), ...issuedNow(), packageId: pkg.packageId });
}

function installOrder(pkg: TestPackage, jobId: string): Buffer {
  const source = { url: `${server.url}/api/v1/packages/${pkg.packageId}/content`, via: 'server' as const, ticket: '' };
  return server.seal({ kind: 'install', jobId, agentId: server.idOf(computer.name), ...issuedNow(), package: pkg.signed, source });
}

/** Offers a fresh package under `jobId` and returns it. */
async function offered(jobId: string, options: { installCommand?: string; deadline?: string } = {}): Promise<TestPackage> {
  const pkg = await server.makePackage({ installCommand: options.installCommand ?? 'true' });
  expect((await server.send(computer.url, offerOrder(pkg, jobId, options.deadline))).body).toMatchObject({ state: 'offered' });
  return pkg;
}

async function offers(agent = computer): Promise<(OfferView & { display: Record<string, string> })[]> {
  const response = await fetch(`${agent.pageUrl}/api/offers`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { offers: (OfferView & { display: Record<string, string> })[] }).offers;
}

async function offerOf(jobId: string) {
  return (await offers()).find((offer) => offer.jobId === jobId);
}

async function choose(jobId: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(`${computer.pageUrl}/api/offers/${jobId}/choice`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
}

/** A request with a Host header of our choosing, which fetch does not allow. */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

beforeAll(async () => {
  ({ server, base } = await FakeManagingServer.startInTempDir('courier-agent-offers-'));
  computer = await startComputer();
});

afterAll(async () => {
  await computer?.agent.stop();
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('offer orders', () => {
  it('answers offered at once and lists the offer open, with its package, size and deadline, also after a restart', async () => {
    const deadline = inOneHour();
    const pkg = await offered('job-offer', { deadline });
    const listed = await offerOf('job-offer');
    expect(listed).toMatchObject({ jobId: 'job-offer', packageId: pkg.packageId, name: pkg.signed.manifest.name, version: '1.0.0', size: pkg.bytes.length, deadline, state: 'open' });
    expect(listed?.display).toMatchObject({ label: `${pkg.signed.manifest.name} 1.0.0`, status: 'Available' });
    expect(listed?.display.size).toMatch(/^\d+(\.\d)? (bytes|KB)$/);

    const repeat = await server.send(computer.url, offerOrder(pkg, 'job-offer', deadline));
    expect(repeat).toMatchObject({ status: 200, body: { state: 'offered', kind: 'offer', jobId: 'job-offer' } });

    await computer.agent.stop();
    computer = await startComputer();
    expect(await offerOf('job-offer')).toMatchObject({ state: 'open', deadline });
  });

  it('takes a withdrawn offer off the page, and answers withdrawn also for an offer it never had', async () => {
    const pkg = await offered('job-withdrawn');
    const withdrawn = await server.send(computer.url, withdrawOrder(pkg, 'job-withdrawn'));
    expect(withdrawn.body).toMatchObject({ state: 'withdrawn', detail: 'the offer was taken off the self-service page' });
    expect(await offerOf('job-withdrawn')).toBeUndefined();
    expect((await choose('job-withdrawn', { choice: 'install' })).status).toBe(404);

    const never = await server.send(computer.url, withdrawOrder(pkg, 'job-never-offered'));
    expect(never.body).toMatchObject({ state: 'withdrawn', detail: 'this computer had no offer from this job' });
  });

  it('takes an offer off the page when its job is cancelled, and never shows one arriving after the cancel', async () => {
    const pkg = await offered('job-cancelled');
    const cancelled = await server.send(computer.url, cancelOrder(pkg, 'job-cancelled'));
    expect(cancelled.body).toMatchObject({ jobId: 'job-cancelled', kind: 'offer', state: 'withdrawn' });
    expect(await offerOf('job-cancelled')).toBeUndefined();
    expect((await choose('job-cancelled', { choice: 'install' })).status).toBe(404);

    const overtaken = await server.makePackage({ installCommand: 'true' });
    expect((await server.send(computer.url, cancelOrder(overtaken, 'job-overtaken'))).body).toMatchObject({ kind: 'cancel', state: 'cancelled' });
    expect((await server.send(computer.url, offerOrder(overtaken, 'job-overtaken'))).body).toMatchObject({ kind: 'offer', state: 'withdrawn' });
    expect(await offerOf('job-overtaken')).toBeUndefined();
  });

  it('takes an offer off the page once its deadline has passed, and takes no choice on it', async () => {
    await offered('job-lapsed', { deadline: new Date(Date.now() - 1000).toISOString() });
    expect(await offerOf('job-lapsed')).toBeUndefined();
    const late = await choose('job-lapsed', { choice: 'install' });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'expired', message: expect.stringMatching(/^the offer expired at /) } } });
    expect(server.choices.some((choice) => choice.jobId === 'job-lapsed')).toBe(false);

    await offered('job-closing', { deadline: new Date(Date.now() + 1500).toISOString() });
    expect((await offerOf('job-closing'))?.state).toBe('open');
    await eventually(async () => ((await offerOf('job-closing')) === undefined ? true : undefined), 10_000, 'the offer to leave the page');
  });
});

describe('choices', () => {
  it("passes a choice to the managing server with the agent's own token, and remembers it across a restart", async () => {
    await offered('job-decline');
    const answer = await choose('job-decline', { choice: 'decline' });
    expect(answer).toEqual({ status: 202, body: { jobId: 'job-decline', computerId: server.idOf(computer.name), choice: 'decline' } });
    expect(server.choices.filter((choice) => choice.jobId === 'job-decline')).toEqual([
      { jobId: 'job-decline', authorization: `Bearer ${server.tokenOf(computer.name)}`, contentType: 'application/json', body: { choice: 'decline' } },
    ]);
    expect(await offerOf('job-decline')).toMatchObject({ state: 'declined', display: { status: 'Declined' } });

    await computer.agent.stop();
    computer = await startComputer();
    expect((await offerOf('job-decline'))?.state).toBe('declined');
  });

  it('shows the offer as choosing while the server has not answered', async () => {
    await offered('job-slow-server');
    let answer!: () => void;
    server.choiceGate = new Promise((resolve) => (answer = resolve));
    try {
      const chosen = choose('job-slow-server', { choice: 'decline' });
      await eventually(async () => ((await offerOf('job-slow-server'))?.state === 'choosing' ? true : undefined), 10_000, 'choosing');
      answer();
      expect((await chosen).status).toBe(202);
    } finally {
      server.choiceGate = undefined;
    }
    expect((await offerOf('job-slow-server'))?.state).toBe('declined');
  });

  it('keeps asking a managing server that is busy or away while the user waits, and delivers the choice once it answers', async () => {
    await offered('job-server-away');
    server.choiceAnswers.set('job-server-away', { status: 503, body: { error: { code: 'database_unavailable', message: 'try again shortly' } } });
    const chosen = choose('job-server-away', { choice: 'decline' });
    await eventually(async () => (server.choices.filter((choice) => choice.jobId === 'job-server-away').length >= 2 ? true : undefined), 10_000, 'a retry');
    server.choiceAnswers.delete('job-server-away');
    expect((await chosen).status).toBe(202);
    expect((await offerOf('job-server-away'))?.state).toBe('declined');
  });

  it("passes the server's refusal through unchanged and leaves the offer as it was", async () => {
    await offered('job-refused');
    const refusal = { error: { code: 'expired', message: 'the offer expired at 2020-01-01T00:00:00.000Z; no choice can be made any more' } };
    server.choiceAnswers.set('job-refused', { status: 409, body: refusal });
    expect(await choose('job-refused', { choice: 'install' })).toEqual({ status: 409, body: refusal });
    expect((await offerOf('job-refused'))?.state).toBe('open');
  });

  it('refuses choices from other sites, in other forms, for unknown offers and at other host names', async () => {
    await offered('job-guarded');
    const before = server.choices.length;
    const crossSite = await choose('job-guarded', { choice: 'install' }, { 'content-type': 'application/json', origin: 'http://evil.test' });
    expect(crossSite).toMatchObject({ status: 403, body: { error: { code: 'cross_origin' } } });
    const form = await choose('job-guarded', { choice: 'install' }, { 'content-type': 'text/plain' });
    expect(form).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    expect((await choose('job-guarded', { choice: 'maybe' })).status).toBe(400);
    expect((await choose('job-unknown', { choice: 'install' })).status).toBe(404);
    expect(server.choices.length).toBe(before);

    const sameOrigin = await choose('job-guarded', { choice: 'decline' }, { 'content-type': 'application/json', origin: computer.pageUrl! });
    expect(sameOrigin.status).toBe(202);

    // A DNS-rebinding page reaches the port under its own name.
    expect(await getWithHost(`${computer.pageUrl}/api/offers`, `evil.test:${new URL(computer.pageUrl!).port}`)).toBe(403);
  });

  it('after an Install choice, follows the install order of the same job to installed or failed', async () => {
    const good = await offered('job-install', { installCommand: 'echo ok' });
    expect((await choose('job-install', { choice: 'install' })).status).toBe(202);
    expect(await offerOf('job-install')).toMatchObject({ state: 'installing', display: { status: expect.stringMatching(/^Installing…/) } });
    await server.follow(computer.url, installOrder(good, 'job-install'));
    expect(await offerOf('job-install')).toMatchObject({ state: 'installed', display: { status: 'Installed' } });

    const bad = await offered('job-install-fails', { installCommand: 'exit 3' });
    expect((await choose('job-install-fails', { choice: 'install' })).status).toBe(202);
    await server.follow(computer.url, installOrder(bad, 'job-install-fails'));
    expect(await offerOf('job-install-fails')).toMatchObject({
      state: 'failed',
      detail: 'install command exited with code 3',
      display: { status: 'Install failed: install command exited with code 3' },
    });
  });
});

describe('self-service page', () => {
  it('renders each offer as an article named by package and version, with a status and the two choices', async () => {
    const pkg = await offered('job-page');
    const response = await fetch(`${computer.pageUrl}/`);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await response.text();
    expect(html).toContain(`<title>Software Center — ${computer.name}</title>`);
    const label = `${pkg.signed.manifest.name} 1.0.0`;
    const article = new RegExp(`<article [^>]*aria-label="${label}" data-job-id="job-page"[^>]*>([\\s\\S]*?)</article>`).exec(html)?.[1];
    expect(article).toBeDefined();
    expect(article).toMatch(/<p [^>]*role="status"[^>]*>Available<\/p>/);
    expect(article).toMatch(/<button [^>]*>Install<\/button>/);
    expect(article).toMatch(/<button [^>]*>Decline<\/button>/);
    expect(article).toContain('Available until');
    expect(html).toMatch(/<p id="empty" class="empty" hidden>/);
  });

  it('says so when nothing is offered', async () => {
    const empty = await startTestAgent(server, { role: 'computer', name: 'pc-empty', dataDir: join(base, 'pc-empty'), listen: { uiPort: 0 } });
    try {
      const html = await (await fetch(`${empty.pageUrl}/`)).text();
      expect(html).toContain('<p id="empty" class="empty">No software is offered to this computer right now.</p>');
      expect(await offers(empty)).toEqual([]);
    } finally {
      await empty.agent.stop();
    }
  });
});
