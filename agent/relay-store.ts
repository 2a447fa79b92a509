/**
 * A relay's package copies: packages/<id>.content with packages/<id>.json beside it (signed manifest,
 * expiry, when stored). Relays are untrusted caches, but an honest relay still never serves a copy it
 * knows is damaged: a copy is re-hashed whenever its file changed since it was last verified.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignedManifest } from '../common/manifest.js';
import type { Log } from './deps.js';
import { readJsonFolder, readJsonIfExists, safeName, sha256File, writeJsonAtomic } from './files.js';

/** What a relay records about one copy. */
export interface RelayCopy {
  manifest: SignedManifest;
  /** Where the copy came from: a damaged copy is fetched again from there. */
  sourceUrl: string;
  expiresAt: string;
  storedAt: string;
}

/** Why a copy is not usable, or the copy itself. */
export type CopyCheck =
  | { ok: true; copy: RelayCopy }
  | { ok: false; reason: 'missing' | 'expired' | 'corrupt' }
  /** Only from a check told not to hash: the file changed (or the agent restarted) since it was verified. */
  | { ok: false; reason: 'unverified' };

/** The copies in one relay's DATADIR/packages/. Callers serialize work per package (see Relay). */
export class RelayStore {
  /** packageId → `size:mtime` of the content when its hash last matched, so it is not re-hashed per request. */
  private readonly verified = new Map<string, string>();
  /** Concurrent requests for one unverified copy share one hashing pass. */
  private readonly hashing = new Map<string, Promise<string>>();
  /**
   * Metadata as last read or written, by package id (undefined: no copy). Only this store writes it, and a
   * relay checks it for every download it serves, so it is read from disk once, not per request.
   */
  private readonly metadata = new Map<string, RelayCopy | undefined>();

  constructor(
    private readonly dir: string,
    private readonly log: Log,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  contentPath(packageId: string): string {
    return join(this.dir, `${safeName(packageId)}.content`);
  }

  partialPath(packageId: string): string {
    return join(this.dir, `${safeName(packageId)}.partial`);
  }

  private metadataPath(packageId: string): string {
    return join(this.dir, `${safeName(packageId)}.json`);
  }

  async read(packageId: string): Promise<RelayCopy | undefined> {
    if (!this.metadata.has(packageId)) {
      const read = await readJsonIfExists<RelayCopy>(this.metadataPath(packageId));
      // A commit or removal while this read was under way has set what is current.
      if (!this.metadata.has(packageId)) this.metadata.set(packageId, read);
    }
    return this.metadata.get(packageId);
  }

  /** The package ids of every copy held (metadata present). */
  async list(): Promise<string[]> {
    const copies = await readJsonFolder<RelayCopy>(this.dir, this.log);
    return [...copies.values()].map((copy) => copy.manifest.manifest.packageId);
  }

  /**
   * Checks a copy: present, unexpired at `now`, and its content matching the manifest's size and SHA-256.
   * With `mayHash` false, a copy not verified since its file last changed is reported `unverified`
   * instead of being hashed (for answers that must come at once). Does not remove anything; callers
   * decide (under the package's lock) what to do with a bad copy.
   */
  async check(packageId: string, now: Date, mayHash = true): Promise<CopyCheck> {
    const copy = await this.read(packageId);
    if (!copy) return { ok: false, reason: 'missing' };
    if (Date.parse(copy.expiresAt) <= now.getTime()) return { ok: false, reason: 'expired' };
    let stamp: string;
    try {
      const info = await stat(this.contentPath(packageId));
      stamp = `${info.size}:${info.mtimeMs}`;
      if (info.size !== copy.manifest.manifest.size) return { ok: false, reason: 'corrupt' };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, reason: 'missing' };
      throw error;
    }
    if (this.verified.get(packageId) !== stamp) {
      if (!mayHash) return { ok: false, reason: 'unverified' };
      if ((await this.hash(packageId)) !== copy.manifest.manifest.sha256) return { ok: false, reason: 'corrupt' };
      this.verified.set(packageId, stamp);
    }
    return { ok: true, copy };
  }

  private hash(packageId: string): Promise<string> {
    let pending = this.hashing.get(packageId);
    if (!pending) {
      pending = sha256File(this.contentPath(packageId)).finally(() => this.hashing.delete(packageId));
      this.hashing.set(packageId, pending);
    }
    return pending;
  }

  /** Makes a verified download the package's copy: the content first, so metadata never names a missing file. */
  async commit(packageId: string, copy: RelayCopy): Promise<void> {
    await rename(this.partialPath(packageId), this.contentPath(packageId));
    const info = await stat(this.contentPath(packageId));
    this.verified.set(packageId, `${info.size}:${info.mtimeMs}`);
    this.metadata.delete(packageId);
    await writeJsonAtomic(this.metadataPath(packageId), copy);
    this.metadata.set(packageId, copy);
  }

  /** Removes a copy and any partial transfer of it; true when there was a copy. */
  async remove(packageId: string): Promise<boolean> {
    this.verified.delete(packageId);
    const had = (await this.read(packageId)) !== undefined;
    // Metadata first: a crash half-way leaves an orphan content file, never metadata without content.
    this.metadata.set(packageId, undefined);
    await rm(this.metadataPath(packageId), { force: true });
    await rm(this.contentPath(packageId), { force: true });
    await rm(this.partialPath(packageId), { force: true });
    return had;
  }
}
