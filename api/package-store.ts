/**
 * The content-addressed package store: `<root>/sha256/<first two hex digits>/<hash>`. An upload is streamed
 * to a temporary file under `<root>/tmp` while it is hashed, and only moved to its final name once the
 * package row is being committed, so a rejected upload leaves nothing behind and a stored blob is always
 * complete.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Content received into the temporary area, not yet part of the store. */
export interface ReceivedContent {
  tempPath: string;
  sha256: string;
  size: number;
}

/** The package blobs under one root folder; see the module comment for the layout. */
export class PackageStore {
  /** Absolute, so paths can be handed to `res.sendFile`. */
  readonly root: string;
  readonly tempDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tempDir = join(this.root, 'tmp');
  }

  /** Streams `content` to a new temporary file, hashing it on the way. */
  async receive(content: Readable): Promise<ReceivedContent> {
    await mkdir(this.tempDir, { recursive: true });
    const tempPath = join(this.tempDir, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    try {
      await pipeline(content, meter, createWriteStream(tempPath, { flags: 'wx' }));
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
    return { tempPath, sha256: hash.digest('hex'), size };
  }

  /**
   * Moves received content to its content address. Renaming over an existing blob is harmless: the same
   * hash means the same bytes.
   */
  async commit(received: ReceivedContent): Promise<void> {
    const path = this.pathOf(received.sha256);
    await mkdir(join(path, '..'), { recursive: true });
    await rename(received.tempPath, path);
  }

  /** Removes received content that will not be committed; a no-op once it was committed. */
  async discard(received: ReceivedContent): Promise<void> {
    await rm(received.tempPath, { force: true });
  }

  /**
   * Deletes temporary files older than `olderThanMs`: what uploads cut off by a crashed api left behind.
   * Several api instances may share a store, so only files far older than any upload in progress go.
   */
  async sweepAbandonedUploads(olderThanMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    const names = await readdir(this.tempDir).catch(() => [] as string[]);
    for (const name of names.filter((entry) => entry.endsWith('.part'))) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && now - info.mtimeMs > olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Path of a blob relative to `root`. */
  relativePathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${sha256}`);
    return join('sha256', sha256.slice(0, 2), sha256);
  }

  pathOf(sha256: string): string {
    return join(this.root, this.relativePathOf(sha256));
  }
}
