/**
 * The relay role: stores the packages it is sent (verified against the signed manifest), serves them to
 * the computers below it with server-signed tickets, and deletes copies when told to or when they expire.
 * A copy found damaged when a computer asks for it is fetched again before anything is served.
 */
import type { DeleteOrder, Order, OrderKind, OrderStatus, StoreOrder } from '../common/orders.js';
import { openTicket } from '../trust/orders.js';
import { verifyManifest } from '../trust/signing.js';
import { KeyedLock } from './keyed-lock.js';
import { orderPackageId, type OrderRecord, type StatusUpdate } from './orders-book.js';
import { fetchCopy } from './relay-fetch.js';
import { RelayStore, type CopyCheck } from './relay-store.js';
import type { ContentAnswer, RoleDeps, RoleService } from './role.js';
import { expiredUpdate, hasExpired } from './validity.js';

/** A relay's dependencies. */
export interface RelayOptions extends RoleDeps {
  /** How often expired copies are looked for (they are also looked for at start). */
  sweepIntervalMs: number;
}

/** The relay role: store and delete orders, expiry sweeps and content for computers. */
export class Relay implements RoleService {
  readonly kinds: ReadonlySet<OrderKind> = new Set<OrderKind>(['store', 'delete']);
  private readonly store: RelayStore;
  /** One transfer, repair, delete or expiry check of a package at a time. */
  private readonly lock = new KeyedLock();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: RelayOptions) {
    this.store = new RelayStore(deps.paths.packages, deps.log);
  }

  async start(): Promise<void> {
    await this.store.init();
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.deps.sweepIntervalMs);
    // Thousands of agents may share a process: a sweep timer must never keep it alive on its own.
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeping;
  }

  async admit(order: Order): Promise<StatusUpdate> {
    const packageId = orderPackageId(order);
    if (order.kind === 'delete') return this.deleteCopy(order);
    const storeOrder = order as StoreOrder;
    if (!verifyManifest(this.deps.identity().serverPublicKey, storeOrder.package)) {
      return { state: 'failed', detail: "the package manifest's signature does not verify against the managing server's key" };
    }
    // A copy already kept as ordered is confirmed in the answer itself when its verification is cached;
    // anything slower (hashing, waiting for a transfer of the same package) is left to the background work.
    if (this.lock.busy(packageId)) return { state: 'transferring', bytes: 0 };
    return this.lock.run(packageId, async () => {
      const held = await this.store.check(packageId, this.deps.clock.now(), false);
      return keptAsOrdered(held, storeOrder) ? alreadyStored(storeOrder) : { state: 'transferring', bytes: 0 };
    });
  }

  /** A relay answers for no other order than the one asked about. */
  answer(record: OrderRecord): OrderStatus {
    return record.status;
  }

  /**
   * Keeps the copy when it is intact and has the order's expiry; otherwise fetches the package again. An
   * intact copy with another expiry is fetched again too: that is a retransfer (DESIGN §1), and the copy
   * in place keeps being served until the new one replaces it. An order whose validity passed before its
   * turn came (after a restart, or queued behind another transfer) fetches nothing.
   */
  async carryOut(record: OrderRecord, signal: AbortSignal): Promise<void> {
    const order = record.order as StoreOrder;
    const packageId = orderPackageId(order);
    await this.lock.run(packageId, async () => {
      const now = this.deps.clock.now();
      const outcome = hasExpired(order, now) ? expiredUpdate(order) : await this.keepOrFetch(order, now, signal);
      await this.deps.book.update(order, outcome);
    });
  }

  /** Under the package's lock: confirms the copy held when it is kept as ordered, otherwise fetches it. */
  private async keepOrFetch(order: StoreOrder, now: Date, signal: AbortSignal): Promise<StatusUpdate> {
    const { packageId } = order.package.manifest;
    const held = await this.store.check(packageId, now);
    if (keptAsOrdered(held, order)) return alreadyStored(order);
    // A damaged or expired copy goes first; a missing one may have a partial transfer worth resuming.
    if (!held.ok && held.reason !== 'missing') await this.store.remove(packageId);
    const onProgress = (bytes: number) => this.deps.book.progress(order, bytes);
    return fetchCopy(this.deps, this.store, { ...order, onProgress }, signal);
  }

  async content(packageId: string, ticket: string | undefined, signal: AbortSignal): Promise<ContentAnswer> {
    const { deps, store } = this;
    if (!ticket) return { status: 403, message: 'a download ticket (X-Courier-Ticket) is required' };
    const opened = openTicket(deps.identity().serverPublicKey, ticket, deps.clock.now());
    if (!opened || opened.packageId !== packageId) {
      return { status: 403, message: 'the download ticket is invalid, expired or for another package' };
    }
    // While the package is being transferred or repaired, wait for that rather than answer from a copy in flux.
    if (this.lock.busy(packageId)) return this.lock.run(packageId, () => this.servable(packageId, signal));
    const held = await store.check(packageId, deps.clock.now());
    if (held.ok) return { path: store.contentPath(packageId) };
    if (held.reason === 'missing') return notHeld(packageId);
    return this.lock.run(packageId, () => this.servable(packageId, signal));
  }

  /**
   * Under the lock: the copy's path once it is intact. A damaged copy is fetched again from where it came
   * from (its hash no longer matching means disk damage or tampering, never a reason to serve it); an
   * expired one is deleted.
   */
  private async servable(packageId: string, signal: AbortSignal): Promise<ContentAnswer> {
    const { deps, store } = this;
    const held = await store.check(packageId, deps.clock.now());
    if (held.ok) return { path: store.contentPath(packageId) };
    if (held.reason === 'missing') return notHeld(packageId);
    const copy = await store.read(packageId);
    await store.remove(packageId);
    if (held.reason !== 'corrupt' || !copy?.sourceUrl) {
      deps.log(`relay: removed the ${held.reason} copy of package ${packageId}`, { packageId });
      return notHeld(packageId);
    }
    deps.log(`relay: the copy of package ${packageId} no longer matches its SHA-256; fetching it again`, { packageId });
    const outcome = await fetchCopy(deps, store, { ...copy, package: copy.manifest, onProgress: () => undefined }, signal);
    if (outcome.state === 'stored') return { path: store.contentPath(packageId) };
    deps.log(`relay: could not fetch package ${packageId} again: ${outcome.detail ?? outcome.state}`, { packageId });
    return notHeld(packageId);
  }

  /**
   * Deletes the copy the order names: one expiring at or before the order's `expiresAt`. A later expiry
   * means a retransfer stored a fresh copy since the managing server decided to delete, and that copy is
   * kept. Read, compare and remove happen under the package's lock, so neither a transfer committing a
   * fresh copy nor an expiry sweep can come in between.
   */
  private deleteCopy(order: DeleteOrder): Promise<StatusUpdate> {
    const { packageId } = order;
    return this.lock.run(packageId, async () => {
      const copy = await this.store.read(packageId);
      if (copy && Date.parse(copy.expiresAt) > Date.parse(order.expiresAt)) {
        const detail = `kept: the copy held expires at ${copy.expiresAt}, later than the ${order.expiresAt} this order deletes`;
        return { state: 'stored', expiresAt: copy.expiresAt, detail };
      }
      const had = await this.store.remove(packageId);
      return { state: 'deleted', detail: had ? 'the copy was deleted' : 'the relay held no copy' };
    });
  }

  /** Deletes every copy whose expiry has passed. Only one sweep runs at a time. */
  private sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((error: unknown) => this.deps.log(`relay: expiry sweep failed: ${String(error)}`))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    for (const packageId of await this.store.list()) {
      await this.lock.run(packageId, async () => {
        const copy = await this.store.read(packageId);
        if (copy && Date.parse(copy.expiresAt) <= this.deps.clock.now().getTime()) {
          await this.store.remove(packageId);
          this.deps.log(`relay: copy of package ${packageId} expired at ${copy.expiresAt} and was deleted`, { packageId });
        }
      });
    }
  }
}

/** Whether the check found an intact copy of the order's content, kept until the order's expiry. */
function keptAsOrdered(held: CopyCheck, order: StoreOrder): boolean {
  return (
    held.ok &&
    held.copy.manifest.manifest.sha256 === order.package.manifest.sha256 &&
    Date.parse(held.copy.expiresAt) === Date.parse(order.expiresAt)
  );
}

/** `bytes: 0` tells the managing server nothing was fetched (common/orders.ts). */
function alreadyStored(order: StoreOrder): StatusUpdate {
  return { state: 'stored', expiresAt: order.expiresAt, bytes: 0, detail: 'an intact copy with this expiry was already held' };
}

function notHeld(packageId: string): ContentAnswer {
  return { status: 404, message: `this relay holds no usable copy of package ${packageId}` };
}
