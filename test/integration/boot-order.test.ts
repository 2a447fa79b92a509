/**
 * Machines in a fleet boot in any order and servers go down: an agent never gives up. On the real stack,
 * a computer started before its relay, and an agent started while the api is down, each enrol as soon as
 * they can, and then install.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack, targetStates } from '../support/stack.js';

let stack: TestStack;
let packageId: string;

beforeAll(async () => {
  stack = await TestStack.start();
  const archive = await makeTarGz({ 'install.sh': 'echo installed\n' });
  const upload = await uploadPackage(stack, { name: 'boot-order', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
  expect(upload.status).toBe(201);
  packageId = upload.body.id;
});

afterAll(async () => {
  await stack?.stop();
});

async function installOn(computers: string[]): Promise<Record<string, string>> {
  const created = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { computers } });
  expect(created.status).toBe(201);
  return targetStates(await stack.finishedJob(created.body.id));
}

describe('boot order', () => {
  it('a computer started before its relay waits for it, says why, and enrols once the relay has', async () => {
    const early = stack.launchAgent({ role: 'computer', name: 'pc-before-relay', relay: 'relay-late' });
    await early.process.waitForLine(/cannot enrol .* yet \(waiting for relay \\?"relay-late\\?" to enrol/, 30_000);
    expect(early.process.running).toBe(true);

    await stack.startAgent({ role: 'relay', name: 'relay-late' });
    await early.ready;
    expect(await installOn(['pc-before-relay'])).toEqual({ 'pc-before-relay': 'installed' });
  });

  it('an agent started while the api is down enrols once the api is back', async () => {
    let launched: ReturnType<TestStack['launchAgent']> | undefined;
    await stack.crashApi(async () => {
      launched = stack.launchAgent({ role: 'computer', name: 'pc-before-api' });
      await launched.process.waitForLine(/cannot enrol .* yet \(server unreachable/, 30_000);
    });
    await launched!.ready;
    const computer = await stack.request('GET', '/computers/pc-before-api');
    expect(computer.status).toBe(200);
    expect(await installOn(['pc-before-api'])).toEqual({ 'pc-before-api': 'installed' });
  });
});
