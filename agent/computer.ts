/**
 * The computer role: install orders go to the Installer; offers and withdrawals to the offer book, which
 * the self-service page shows; cancels to whichever of the two holds the job's order. Offers, withdrawals
 * and cancels end on receipt, so only installs have background work.
 */
import type { CancelOrder, Order, OrderKind, OrderStatus } from '../common/orders.js';
import { Installer } from './installer.js';
import type { Offers } from './offers.js';
import type { OrderRecord, OrdersBook, StatusUpdate } from './orders-book.js';
import type { ContentAnswer, RoleDeps, RoleService } from './role.js';
import type { CommandRunner } from './run-command.js';

/** What a cancel that came too late is answered with, besides the install's own status. */
const TOO_LATE_DETAIL = 'the install command had started when the job was cancelled; it runs to its end';

/** A managed computer: installs, and offers for its user to choose. */
export class Computer implements RoleService {
  readonly kinds: ReadonlySet<OrderKind> = new Set<OrderKind>(['install', 'offer', 'withdraw', 'cancel']);
  private readonly installer: Installer;
  private readonly book: OrdersBook;

  constructor(
    deps: RoleDeps,
    private readonly offers: Offers,
    runCommand?: CommandRunner,
  ) {
    this.installer = new Installer(deps, runCommand);
    this.book = deps.book;
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
    if (order.kind === 'cancel') return this.cancel(order);
    throw new Error(`a computer does not carry out ${order.kind} orders`);
  }

  /**
   * A cancel is answered with the status of the job's install order, or else of its offer: what the
   * managing server wants to know is whether anything was installed or will be.
   */
  answer(record: OrderRecord): OrderStatus {
    if (record.order.kind !== 'cancel') return record.status;
    const { jobId, packageId } = record.order;
    const install = this.book.find(jobId, 'install', packageId);
    if (install?.status.state === 'installing') return { ...install.status, detail: TOO_LATE_DETAIL };
    return (install ?? this.book.find(jobId, 'offer', packageId) ?? record).status;
  }

  /**
   * Acts on the job's install order, or else on its offer. The cancel's own record stays in the book
   * either way, so an install or offer of the job that arrives later, even after a restart, is not
   * carried out.
   */
  private async cancel(order: CancelOrder): Promise<StatusUpdate> {
    const actedOn = (await this.installer.cancel(order)) ?? (await this.offers.cancel(order));
    if (!actedOn) return { state: 'cancelled', detail: 'no install or offer of this job had arrived; none arriving later is carried out' };
    return { state: 'cancelled', detail: `acted on the job's ${actedOn.order.kind} order, which it left ${actedOn.status.state}` };
  }

  /** Only install orders are ever left unfinished. */
  carryOut(record: OrderRecord, signal: AbortSignal): Promise<void> {
    return this.installer.carryOut(record, signal);
  }

  content(): Promise<ContentAnswer> {
    return Promise.resolve({ status: 404, message: 'a computer serves no packages' });
  }
}
