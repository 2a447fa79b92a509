/**
 * Resumable downloads: content is fetched into a `.partial` file, resumed with `Range` after a lost
 * connection or an agent restart, and hashed as it arrives (the bytes already on disk are re-hashed
 * once on resume), so verification needs no second pass over the file.
 */
import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { jittered } from './backoff.js';
import type { FetchLike, Log } from './deps.js';
import { fileSize, hashFileInto } from './files.js';

/** A download that did not complete; `retryable` when trying again later may succeed. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** The source sent more bytes than the signed manifest states: an integrity failure, not a network one. */
export class OversizeContentError extends Error {
  constructor(expectedSize: number) {
    super(`content is larger than the ${expectedSize} bytes the signed manifest states`);
    this.name = 'OversizeContentError';
  }
}

/** One download and where its bytes go. */
export interface DownloadRequest {
  url: string;
  /** Credentials for the source (agent token or download ticket). */
  headers: Record<string, string>;
  /** The file the content is written to; resumed when it already holds a prefix. */
  partialPath: string;
  /** Size from the signed manifest: the download never writes more. */
  expectedSize: number;
  fetch: FetchLike;
  signal: AbortSignal;
  onProgress: (bytes: number) => void;
  /**
   * Once the retry delays are used up, the download goes on trying, every last delay, while this holds
   * (an install order: until the order is no longer valid). Without it, the last failure is final.
   */
  keepTrying?: () => boolean;
}

/** What was downloaded in all (resumed prefix included). */
export interface Downloaded {
  size: number;
  sha256: string;
}

/** Bytes received but not yet written that make the download wait for the disk. */
const MAX_UNWRITTEN_BYTES = 1024 * 1024;
/** Received bytes are gathered up to this much before a write is started (the last write may be smaller). */
const WRITE_BYTES = 256 * 1024;

/**
 * Writes a download's chunks in arrival order, gathered into writes of at least WRITE_BYTES while more
 * arrive (one writev each), so a download costs a few writes however small the network's chunks are.
 */
class ChunkWriter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Set by drain(): the rest goes out whatever its size. */
  private ending = false;

  constructor(private readonly file: FileHandle) {}

  /** Queues a chunk; waits only when too much is waiting for the disk. Rethrows a failed write. */
  async add(chunk: Uint8Array): Promise<void> {
    this.rethrow();
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes >= WRITE_BYTES) this.writing ??= this.writeAll();
    if (this.pendingBytes >= MAX_UNWRITTEN_BYTES) await this.writing;
    this.rethrow();
  }

  /** Writes what is still queued and resolves once all is written; rejects with the first failed write. */
  async drain(): Promise<void> {
    // After a failed write the file may lack bytes before the pending ones: nothing more is appended.
    this.rethrow();
    this.ending = true;
    this.writing ??= this.writeAll();
    await this.writing;
    this.rethrow();
  }

  /** Waits for the write under way, whatever its outcome (before the file is closed after a failure). */
  async settle(): Promise<void> {
    await this.writing;
  }

  private rethrow(): void {
    if (this.failure) throw this.failure;
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.pending.length > 0 && (this.ending || this.pendingBytes >= WRITE_BYTES)) {
        const chunks = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        await this.file.writev(chunks);
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.writing = undefined;
    }
  }
}

/** Backoff between attempts after a connection error or a 5xx answer. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000, 4000, 8000, 15_000];

/**
 * Downloads with retries: transient failures are retried after each of `retryDelaysMs` (give or take a
 * fifth, so computers that lost their relay together do not come back together), then, while
 * `request.keepTrying` holds, after the last one again and again; then rethrown.
 */
export async function download(request: DownloadRequest, retryDelaysMs: readonly number[], log: Log): Promise<Downloaded> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await downloadOnce(request);
    } catch (error) {
      const lastDelay = retryDelaysMs.at(-1);
      const delay = retryDelaysMs[attempt] ?? (request.keepTrying?.() ? lastDelay : undefined);
      if (!(error instanceof DownloadError) || !error.retryable || delay === undefined) throw error;
      // Every failure while the delays grow; then one line per ten tries, not one per try for hours.
      if (attempt < retryDelaysMs.length || (attempt - retryDelaysMs.length) % 10 === 0) {
        log(`download of ${request.url} failed (${error.message}); retrying in about ${delay} ms`);
      }
      await sleep(jittered(delay), undefined, { signal: request.signal });
    }
  }
}

/** One attempt: resumes from whatever the partial file holds. */
async function downloadOnce(request: DownloadRequest): Promise<Downloaded> {
  const { partialPath, expectedSize, signal } = request;
  let offset = (await fileSize(partialPath)) ?? 0;
  if (offset > expectedSize) {
    await rm(partialPath, { force: true });
    offset = 0;
  }
  let hash = createHash('sha256');
  if (offset > 0) await hashFileInto(partialPath, hash);
  if (offset === expectedSize) return { size: offset, sha256: hash.digest('hex') };

  const headers = offset > 0 ? { ...request.headers, Range: `bytes=${offset}-` } : request.headers;
  let response: Response;
  try {
    response = await request.fetch(request.url, { headers, signal });
  } catch (error) {
    signal.throwIfAborted();
    throw new DownloadError(`cannot reach ${new URL(request.url).origin}: ${describeCause(error)}`, true);
  }
  if (response.status === 200 && offset > 0) {
    // The source ignored Range: start over rather than append the whole content to the prefix.
    offset = 0;
    hash = createHash('sha256');
  } else if (response.status === 206 && contentRangeStart(response) !== offset) {
    await response.body?.cancel();
    await rm(partialPath, { force: true });
    throw new DownloadError(`source answered a range other than the one asked for (bytes=${offset}-)`, true);
  } else if (response.status !== 200 && response.status !== 206) {
    if (response.status === 416) await rm(partialPath, { force: true });
    throw new DownloadError(
      `${request.url} answered HTTP ${response.status}${await errorText(response)}`,
      response.status >= 500 || response.status === 416 || response.status === 429,
    );
  }
  if (!response.body) throw new DownloadError(`${request.url} answered without a body`, true);

  const file = await open(partialPath, offset > 0 ? 'a' : 'w');
  const writer = new ChunkWriter(file);
  let received = offset;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      if (received + chunk.byteLength > expectedSize) throw new OversizeContentError(expectedSize);
      hash.update(chunk);
      received += chunk.byteLength;
      await writer.add(chunk);
      request.onProgress(received);
    }
    await writer.drain();
    await file.datasync();
  } catch (error) {
    // What arrived is kept on disk, so the next attempt (or the agent's next start) resumes after it.
    if (error instanceof OversizeContentError) await writer.settle();
    else await writer.drain().catch(() => undefined);
    signal.throwIfAborted();
    if (error instanceof OversizeContentError) {
      await file.close();
      await rm(partialPath, { force: true });
      throw error;
    }
    throw new DownloadError(`connection lost after ${received} bytes: ${describeCause(error)}`, true);
  } finally {
    await file.close().catch(() => undefined);
  }
  if (received < expectedSize) {
    throw new DownloadError(`source ended the content after ${received} of ${expectedSize} bytes`, true);
  }
  return { size: received, sha256: hash.digest('hex') };
}

function contentRangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The message of a Courier-style JSON error body, or a short excerpt of any other body. */
async function errorText(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).trim();
  if (text === '') return '';
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return `: ${body.error.message}`;
  } catch {
    // Not JSON: fall through to the excerpt.
  }
  return `: ${text.slice(0, 200)}`;
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Why downloaded content does not match its signed manifest, or undefined when it does. */
export function contentMismatch(downloaded: Downloaded, manifest: { size: number; sha256: string }): string | undefined {
  if (downloaded.size !== manifest.size) {
    return `content is ${downloaded.size} bytes but the signed manifest states ${manifest.size}`;
  }
  if (downloaded.sha256 !== manifest.sha256) {
    return `content SHA-256 ${downloaded.sha256} does not match the signed manifest's ${manifest.sha256}`;
  }
  return undefined;
}
