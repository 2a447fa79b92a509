/**
 * In-process relays for workflow tests: they open real signed orders and answer like a relay agent, and
 * record what they were told, so tests can count transfers and deletions without agent processes.
 */
import { pack } from 'msgpackr';
import type { OrderTransport } from '../../activities/agent-client.js';
import type { Order, OrderStatus } from '../../common/orders.js';
import { openOrder } from '../../trust/orders.js';
import type { ServerKey } from '../../trust/signing.js';

export class FakeRelays {
  readonly orders: (Order & { relay: string })[] = [];
  /** relay URL host → package id → expiry of the copy it holds. */
  readonly copies = new Map<string, Map<string, string>>();
  /** Transfers that really fetched the package (not answered from an intact copy). */
  readonly fetched: { relay: string; packageId: string }[] = [];
  /** Hosts that refuse connections, as a stopped relay would. */
  readonly down = new Set<string>();
  /** Runs when a delete order arrives, before the relay acts on it: lets a test race a retransfer in. */
  beforeDelete?: (relay: string, packageId: string) => Promise<void>;

  constructor(
    private readonly key: ServerKey,
    private readonly agentIds: Map<string, string>,
  ) {}

  count(relay: string, kind: Order['kind']): number {
    return this.orders.filter((order) => order.relay === relay && order.kind === kind).length;
  }

  fetches(relay: string): number {
    return this.fetched.filter((entry) => entry.relay === relay).length;
  }

  readonly transport: OrderTransport = async (url, body) => {
    const relay = new URL(url).hostname.replace(/\.test$/, '');
    if (this.down.has(relay)) throw new Error(`connect ECONNREFUSED ${relay}`);
    const order = openOrder(body, {
      publicKeyPem: this.key.publicKeyPem,
      agentId: this.agentIds.get(relay) ?? '',
      now: new Date(),
    });
    this.orders.push({ ...order, relay });
    const held = this.copies.get(relay) ?? new Map<string, string>();
    this.copies.set(relay, held);
    const now = new Date().toISOString();
    let status: OrderStatus;
    if (order.kind === 'store') {
      const packageId = order.package.manifest.packageId;
      const fetched = held.get(packageId) === order.expiresAt ? 0 : order.package.manifest.size;
      if (fetched > 0) this.fetched.push({ relay, packageId });
      held.set(packageId, order.expiresAt);
      status = { jobId: order.jobId, kind: 'store', state: 'stored', expiresAt: order.expiresAt, bytes: fetched, updatedAt: now };
    } else if (order.kind === 'delete') {
      await this.beforeDelete?.(relay, order.packageId);
      // As a relay agent does: only a copy whose expiry is at or before the named one is deleted.
      const expiry = held.get(order.packageId);
      if (expiry !== undefined && Date.parse(expiry) > Date.parse(order.expiresAt)) {
        status = { jobId: order.jobId, kind: 'delete', state: 'stored', expiresAt: expiry, detail: 'kept: a later copy', updatedAt: now };
      } else {
        held.delete(order.packageId);
        status = { jobId: order.jobId, kind: 'delete', state: 'deleted', updatedAt: now };
      }
    } else {
      status = { jobId: order.jobId, kind: order.kind, state: 'failed', detail: 'a relay does not install', updatedAt: now };
    }
    return { status: 200, body: pack(status) };
  };
}
