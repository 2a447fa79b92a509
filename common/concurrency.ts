/**
 * Bounded concurrency for work done outside workflows: a fleet must not enrol all at once, nor the
 * managing server call every agent at once.
 */

/**
 * Calls `work` for every item with at most `limit` calls in flight. The first failure stops new calls and
 * is thrown once the calls in flight have settled.
 */
export async function forEachLimited<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done && !failure; next = iterator.next()) {
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, lane));
  if (failure) throw failure.error;
}
