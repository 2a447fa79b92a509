/**
 * Bandwidth limits (bytes per second) on package content: the managing server's own, and each relay's,
 * which covers what the relay fetches from the server and what it serves its computers. A limit is shared
 * by every response it applies to, so ten computers downloading from one relay share its limit.
 */

/** One limit: the moment its link is free again, moved on by every byte sent through it. */
export class BandwidthLimit {
  private freeAt = 0;

  constructor(readonly bytesPerSecond: number) {}

  /** Accounts `bytes` sent at `now` (ms); returns when the link may take more. */
  spend(bytes: number, now: number): number {
    this.freeAt = Math.max(now, this.freeAt) + (bytes * 1000) / this.bytesPerSecond;
    return this.freeAt;
  }
}

/** The parts of an HTTP response (node's ServerResponse) that pacing drives. */
interface PacedResponse {
  write(chunk: unknown, ...rest: unknown[]): boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Paces a response that a file stream is piped into (express's sendFile): after each chunk every limit
 * moves on by its size, and the response answers `false` (the stream pauses) until the slowest limit is
 * free, then emits 'drain' (the stream goes on). The socket's own 'drain' is held back meanwhile, so the
 * stream cannot run ahead; on average no limit passes more than its rate, in bursts of one chunk (64 KiB).
 */
export function paceResponse(res: PacedResponse, limits: readonly BandwidthLimit[]): void {
  if (limits.length === 0) return;
  const write = res.write.bind(res);
  const emit = res.emit.bind(res);
  let paused = false;
  let socketFull = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  res.write = (chunk: unknown, ...rest: unknown[]) => {
    const accepted = write(chunk, ...rest);
    const bytes = chunk instanceof Uint8Array ? chunk.byteLength : String(chunk).length;
    const now = Date.now();
    const wait = Math.max(...limits.map((limit) => limit.spend(bytes, now))) - now;
    socketFull = !accepted;
    if (wait <= 0) return accepted;
    paused = true;
    timer = setTimeout(() => {
      paused = false;
      if (!socketFull) emit('drain');
    }, wait);
    return false;
  };
  res.emit = (event: string | symbol, ...args: unknown[]) => {
    if (event === 'drain') {
      socketFull = false;
      if (paused) return false;
    }
    return emit(event, ...args);
  };
  res.once('close', () => clearTimeout(timer));
}
