/**
 * A mutex per key: work for one key runs one at a time, in arrival order, while other keys proceed.
 * Relays lock per package (a transfer, a delete and an expiry sweep of one copy never interleave);
 * computers lock the install step so conditions are checked against what is really installed.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Whether work for `key` is running or queued. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Runs `work` once every earlier `run` for the same key has settled. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      // Forget the key once nobody queued behind us, so the map does not grow with every package seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
