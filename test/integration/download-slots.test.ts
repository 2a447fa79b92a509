/**
 * What bounds a job's work in flight: download slots per relay, not worker slots. On the fleet simulator
 * against the real stack, a job's `downloadsPerRelay` holds on every relay, counted where the downloads
 * really happen, as the fleet's relays serve them; the same job without it downloads many more at once.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningFleet } from '../support/fleet.js';
import { uploadPackage } from '../support/packages.js';
import { ENROLL_SECRET, TestStack } from '../support/stack.js';

const COMPUTERS = 200;
const RELAYS = 2;

let stack: TestStack;
let fleet: RunningFleet;

/** A package large enough that downloads from one relay overlap. */
async function bulkyPackage(name: string): Promise<string> {
  const upload = await uploadPackage(stack, { name, version: '1.0.0', installCommand: 'true' }, randomBytes(4 * 1024 * 1024), `${name}.bin`);
  expect(upload.status).toBe(201);
  return upload.body.id;
}

async function installEverywhere(packageId: string, bounds: object): Promise<void> {
  const created = await stack.request('POST', '/jobs', { type: 'install', packageId, targets: { all: true }, ...bounds });
  expect(created.status).toBe(201);
  const done = await stack.finishedJob(created.body.id, 180_000);
  expect(done.counts).toEqual({ installed: COMPUTERS });
}

beforeAll(async () => {
  stack = await TestStack.start();
  fleet = await RunningFleet.start({
    server: stack.apiUrl,
    enrollSecret: ENROLL_SECRET,
    computers: COMPUTERS,
    relays: RELAYS,
    installMs: 100,
    namePrefix: 'ds',
    dataDir: join(stack.dataDir, 'fleet'),
  });
});

afterAll(async () => {
  await fleet?.stop();
  await stack?.stop();
});

describe('download slots', () => {
  it("a job's downloadsPerRelay bounds the computers downloading from each relay at once", async () => {
    await installEverywhere(await bulkyPackage('bounded'), { downloadsPerRelay: 3 });
    const bounded: Record<string, number> = (await fleet.stats()).peakDownloadsPerRelay;
    expect(Object.keys(bounded)).toHaveLength(RELAYS);
    for (const peak of Object.values(bounded)) expect(peak).toBeLessThanOrEqual(3);

    // The same job with the default bound (100 per relay) puts many more on each relay at once.
    await installEverywhere(await bulkyPackage('unbounded'), {});
    const unbounded: Record<string, number> = (await fleet.stats()).peakDownloadsPerRelay;
    expect(Math.max(...Object.values(unbounded))).toBeGreaterThan(3);
  });
});
