/**
 * Fetching a relay copy from the managing server: resumable download into the package's `.partial` file,
 * verification against the signed manifest, then the copy is replaced in one rename. Used for store
 * orders and to repair a copy found damaged when a computer asks for it.
 */
import { rm } from 'node:fs/promises';
import type { SignedManifest } from '../common/manifest.js';
import { contentMismatch, download, DownloadError, OversizeContentError } from './download.js';
import type { StatusUpdate } from './orders-book.js';
import type { RelayStore } from './relay-store.js';
import type { RoleDeps } from './role.js';

/** What to fetch and how long to keep it. */
export interface CopyRequest {
  package: SignedManifest;
  sourceUrl: string;
  expiresAt: string;
  onProgress: (bytes: number) => void;
}

/**
 * Fetches and verifies a copy, making it the package's copy on success. Returns `stored` or `failed`
 * with the reason; throws only when `signal` aborts (the partial file is kept for resuming) or on local
 * I/O errors. The caller holds the package's lock.
 */
export async function fetchCopy(deps: RoleDeps, store: RelayStore, request: CopyRequest, signal: AbortSignal): Promise<StatusUpdate> {
  const { manifest } = request.package;
  const partialPath = store.partialPath(manifest.packageId);
  let downloaded;
  try {
    downloaded = await download(
      {
        url: request.sourceUrl,
        headers: { authorization: `Bearer ${deps.identity().token}` },
        partialPath,
        expectedSize: manifest.size,
        fetch: deps.fetch,
        signal,
        onProgress: request.onProgress,
      },
      deps.retryDelaysMs,
      deps.log,
    );
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof OversizeContentError) return { state: 'failed', detail: `${error.message}; the transfer was discarded` };
    if (error instanceof DownloadError) return { state: 'failed', detail: `transfer failed: ${error.message}` };
    throw error;
  }
  const mismatch = contentMismatch(downloaded, manifest);
  if (mismatch) {
    await rm(partialPath, { force: true });
    return { state: 'failed', detail: `${mismatch}; the transfer was discarded` };
  }
  await store.commit(manifest.packageId, {
    manifest: request.package,
    sourceUrl: request.sourceUrl,
    expiresAt: request.expiresAt,
    storedAt: deps.clock.now().toISOString(),
  });
  return { state: 'stored', expiresAt: request.expiresAt, bytes: downloaded.size };
}
