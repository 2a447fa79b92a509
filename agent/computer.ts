/**
 * The computer role: install orders go to the Installer; offers and withdrawals to the offer book, which
 * the self-service page shows. Offers and withdrawals end on receipt, so only installs have background work.
 */
import type { Order, OrderKind } from '../common/orders.js';
import { Installer } from './installer.js';
import type { Offers } from './offers.js';
import type { OrderRecord, StatusUpdate } from './orders-book.js';
import type { ContentAnswer, RoleDeps, RoleService } from './role.js';

/** A managed computer: installs, and offers for its user to choose. */
export class Computer implements RoleService {
  readonly kinds: ReadonlySet<OrderKind> = new Set<OrderKind>(['install', 'offer', 'withdraw']);
  private readonly installer: Installer;

  constructor(
    deps: RoleDeps,
    private readonly offers: Offers,
  ) {
    this.installer = new Installer(deps);
  }

  async start(): Promise<void> {
    await this.installer.start();
    await this.offers.load();
  }

  /** Nothing periodic to stop: install work is tracked and awaited by the agent core. */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  admit(order: Order): Promise<StatusUpdate> {
    if (order.kind === 'install') return this.installer.admit(order);
    if (order.kind === 'offer' || order.kind === 'withdraw') return this.offers.admit(order);
    throw new Error(`a computer does not carry out ${order.kind} orders`);
  }

  /** Only install orders are ever left unfinished. */
  carryOut(record: OrderRecord, signal: AbortSignal): Promise<void> {
    return this.installer.carryOut(record, signal);
  }

  content(): Promise<ContentAnswer> {
    return Promise.resolve({ status: 404, message: 'a computer serves no packages' });
  }
}
