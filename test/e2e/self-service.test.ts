/**
 * The pages people read, in a real browser (Debian's Chromium, driven by playwright-core): on the
 * self-service page a user installs one offered package and declines another, and the managing server's
 * job views show both choices; the api's reference page renders every route from the api alone.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../../api/openapi/operations.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack, type RunningAgent } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

let stack: TestStack;
let computer: RunningAgent;
let browser: Browser;
let page: Page;

async function offer(name: string, version: string): Promise<string> {
  const archive = await makeTarGz({ 'install.sh': `echo ${name} > "$COURIER_TARGET_DIR/${name}"\n` });
  const upload = await uploadPackage(stack, { name, version, installCommand: 'sh install.sh' }, archive);
  const created = await stack.request('POST', '/jobs', { type: 'offer', packageId: upload.body.id, targets: { computers: ['desk-1'] } });
  expect(created.status).toBe(201);
  await eventually(async () => ((await stack.request('GET', `/jobs/${created.body.id}`)).body.targets[0].state === 'offered' ? true : undefined));
  return created.body.id as string;
}

async function targetState(jobId: string): Promise<string> {
  return (await stack.request('GET', `/jobs/${jobId}`)).body.targets[0].state as string;
}

beforeAll(async () => {
  stack = await TestStack.start();
  computer = await stack.startAgent({ role: 'computer', name: 'desk-1', page: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('self-service page', () => {
  it('lists offers; Install installs and shows the result; Decline is recorded', async () => {
    const installJob = await offer('notepad', '2.4.0');
    const declineJob = await offer('game', '1.0.0');

    await page.goto(computer.pageUrl!);
    const notepad = page.getByRole('article', { name: 'notepad 2.4.0' });
    const game = page.getByRole('article', { name: 'game 1.0.0' });
    await notepad.waitFor();
    await game.waitFor();

    await notepad.getByRole('button', { name: 'Install' }).click();
    await notepad.getByRole('status').filter({ hasText: /installed/i }).waitFor({ timeout: 60_000 });
    await eventually(async () => ((await targetState(installJob)) === 'installed' ? true : undefined), 30_000, 'installed in the job');
    expect(existsSync(join(computer.dataDir, 'root', 'notepad'))).toBe(true);

    await game.getByRole('button', { name: 'Decline' }).click();
    await game.getByRole('status').filter({ hasText: /declined/i }).waitFor({ timeout: 30_000 });
    await eventually(async () => ((await targetState(declineJob)) === 'declined' ? true : undefined), 30_000, 'declined in the job');
    expect(existsSync(join(computer.dataDir, 'root', 'game'))).toBe(false);

    // Kept for a person to look at after a run.
    await page.screenshot({ path: join(tmpdir(), 'courier-self-service.png'), fullPage: true });
  });
});

describe('api reference page', () => {
  it('shows every route, loading nothing from anywhere but the api and breaking no rule of its page', async () => {
    const reference = await browser.newPage();
    const requested: string[] = [];
    const complaints: string[] = [];
    reference.on('request', (request) => requested.push(request.url()));
    reference.on('console', (message) => {
      if (message.type() === 'error') complaints.push(message.text());
    });
    await reference.goto(`${stack.apiUrl}/api/v1/docs`);
    await reference.getByText('Create an install, transfer or offer job').waitFor();
    expect(await reference.locator('.opblock').count()).toBe(operations.length);
    expect(requested.filter((url) => !url.startsWith(`${stack.apiUrl}/`) && !url.startsWith('data:'))).toEqual([]);
    expect(complaints).toEqual([]);
    await reference.screenshot({ path: join(tmpdir(), 'courier-api-reference.png'), fullPage: true });
    await reference.close();
  });
});
