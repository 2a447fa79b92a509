/** The package store's sweep of uploads a crashed api left behind. */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PackageStore } from '../../api/package-store.js';

let root: string | undefined;

afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('PackageStore.sweepAbandonedUploads', () => {
  it('removes only temporary files untouched for longer than the limit', async () => {
    root = await mkdtemp(join(tmpdir(), 'courier-store-'));
    const store = new PackageStore(root);
    await mkdir(store.tempDir, { recursive: true });
    const abandoned = join(store.tempDir, 'abandoned.part');
    const inProgress = join(store.tempDir, 'in-progress.part');
    await writeFile(abandoned, 'half an upload');
    await writeFile(inProgress, 'an upload still arriving');
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    await utimes(abandoned, twoDaysAgo, twoDaysAgo);

    expect(await store.sweepAbandonedUploads(24 * 3600_000)).toBe(1);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(inProgress)).toBe(true);
  });

  it('finds nothing to do in a store that has never received an upload', async () => {
    root = await mkdtemp(join(tmpdir(), 'courier-store-'));
    expect(await new PackageStore(join(root, 'fresh')).sweepAbandonedUploads(0)).toBe(0);
  });
});
