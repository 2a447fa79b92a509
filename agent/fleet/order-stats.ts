/**
 * Counts of the fleet's orders by kind and state, read from the agents' own order records on disk: the
 * agent's truth, not what the managing server last heard.
 */
import type { Log } from '../deps.js';
import type { OrderRecord } from '../orders-book.js';
import { readJsonFolder } from '../files.js';
import { AgentPaths } from '../paths.js';
import { forEachLimited } from '../../common/concurrency.js';

/** kind → state → how many orders. */
export type OrderStateCounts = Record<string, Record<string, number>>;

/** Reading a few thousand small files at once would only queue up in libuv's thread pool. */
const READ_CONCURRENCY = 32;

/** Counts the order records in the given agents' data folders. */
export async function countOrderStates(dataDirs: Iterable<string>, log: Log): Promise<OrderStateCounts> {
  const counts: OrderStateCounts = {};
  await forEachLimited(dataDirs, READ_CONCURRENCY, async (dataDir) => {
    for (const { order, status } of (await readJsonFolder<OrderRecord>(new AgentPaths(dataDir).orders, log)).values()) {
      const byState = (counts[order.kind] ??= {});
      byState[status.state] = (byState[status.state] ?? 0) + 1;
    }
  });
  return counts;
}
