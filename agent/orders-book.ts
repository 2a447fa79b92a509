/**
 * The agent's order records: one file per order, keyed by (jobId, kind, packageId), holding the order as
 * received and its current status. Repeated orders are answered from here, and a restarted agent finds
 * here the work it left unfinished.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { finalOrderStates, type Order, type OrderKind, type OrderStatus } from '../common/orders.js';
import type { Clock, Log } from './deps.js';
import { readJsonFolder, safeName, writeJsonAtomic } from './files.js';

/** One order and what became of it. */
export interface OrderRecord {
  order: Order;
  status: OrderStatus;
}

/** A status change: the new state and the fields that describe it (fields not given are cleared). */
export type StatusUpdate = Omit<OrderStatus, 'jobId' | 'kind' | 'updatedAt'>;

/**
 * Told of every state change once it is on disk (the computer's reporter sends it to the managing server);
 * not of download progress, which is no change of state.
 */
export type UpdateListener = (record: OrderRecord) => void;

/** The package an order is about, whatever its kind. */
export function orderPackageId(order: Order): string {
  return 'packageId' in order ? order.packageId : order.package.manifest.packageId;
}

/** The idempotency key of an order; also its record's file name. */
export function orderKey(order: Order): string {
  return recordKey(order.jobId, order.kind, orderPackageId(order));
}

/** The key of the order of `kind` that job `jobId` sent about `packageId`. */
function recordKey(jobId: string, kind: OrderKind, packageId: string): string {
  return `${safeName(jobId)}.${kind}.${safeName(packageId)}`;
}

/** Whether the order has ended (nothing more will happen to it). */
export function isFinal(status: OrderStatus): boolean {
  return finalOrderStates.has(status.state);
}

/** The records of one agent, in memory and in DATADIR/orders/; every change is written atomically. */
export class OrdersBook {
  private readonly records = new Map<string, OrderRecord>();
  /** Per-record write chains, so writes of one record land in the order they were made. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly onUpdate?: UpdateListener,
  ) {}

  /** Reads every record in the folder (at start); an unreadable one is moved aside and logged. */
  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [key, record] of await readJsonFolder<OrderRecord>(this.dir, this.log)) this.records.set(key, record);
  }

  get(order: Order): OrderRecord | undefined {
    return this.records.get(orderKey(order));
  }

  /**
   * The record of another order of the same job: the self-service page looks up, for an offer, the
   * withdrawal and the install that job may have sent since.
   */
  find(jobId: string, kind: OrderKind, packageId: string): OrderRecord | undefined {
    return this.records.get(recordKey(jobId, kind, packageId));
  }

  /** Every record of one kind of order. */
  ofKind(kind: OrderKind): OrderRecord[] {
    return [...this.records.values()].filter((record) => record.order.kind === kind);
  }

  /** Records that had not reached a final state when the agent last stopped. */
  unfinished(): OrderRecord[] {
    return [...this.records.values()].filter((record) => !isFinal(record.status));
  }

  /**
   * Records an order on its first receipt. Returns the existing record instead when the order is already
   * known; the check and the insertion happen without an await in between, so two simultaneous receipts of
   * one order can never both start its work.
   */
  async admit(order: Order, initial: StatusUpdate): Promise<{ record: OrderRecord; isNew: boolean }> {
    const existing = this.get(order);
    if (existing) return { record: existing, isNew: false };
    const record: OrderRecord = { order, status: this.status(order, initial) };
    const key = orderKey(order);
    this.records.set(key, record);
    try {
      await this.persist(key);
    } catch (error) {
      // Unrecorded means not accepted: the sender gets an error and the next receipt starts afresh.
      this.records.delete(key);
      throw error;
    }
    return { record, isNew: true };
  }

  /** Moves an order to a new state and writes it to disk before returning; then tells the listener. */
  async update(order: Order, update: StatusUpdate): Promise<void> {
    const record = this.require(order);
    record.status = this.status(order, update);
    await this.persist(orderKey(order));
    this.onUpdate?.(record);
  }

  /**
   * Updates the bytes received so far, in memory only: a restarted agent resumes the download from what its
   * partial file holds, so a count on disk would only cost a write per second of every download.
   */
  progress(order: Order, bytes: number): void {
    const record = this.require(order);
    record.status = { ...record.status, bytes, updatedAt: this.clock.now().toISOString() };
  }

  private require(order: Order): OrderRecord {
    const record = this.get(order);
    if (!record) throw new Error(`no record of order ${orderKey(order)}`);
    return record;
  }

  private status(order: Order, update: StatusUpdate): OrderStatus {
    return { ...update, jobId: order.jobId, kind: order.kind, updatedAt: this.clock.now().toISOString() };
  }

  private persist(key: string): Promise<void> {
    const write = (this.writes.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      // Each write takes the record as it is when its turn comes, so the last one always wins.
      .then(() => writeJsonAtomic(join(this.dir, `${key}.json`), this.records.get(key)));
    this.writes.set(key, write);
    return write;
  }
}
