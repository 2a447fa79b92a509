/** What the agent core needs from a role (relay or computer), and what every role is given. */
import type { Order, OrderKind, OrderStatus } from '../common/orders.js';
import type { Clock, FetchLike, Log } from './deps.js';
import type { Identity } from './enrolment.js';
import type { OrderRecord, OrdersBook, StatusUpdate } from './orders-book.js';
import type { AgentPaths } from './paths.js';

/** Shared dependencies of both roles. */
export interface RoleDeps {
  paths: AgentPaths;
  book: OrdersBook;
  fetch: FetchLike;
  clock: Clock;
  log: Log;
  /** The enrolment answer; roles only run once the agent has enrolled. */
  identity: () => Identity;
  /** Backoff between download attempts after transient failures. */
  retryDelaysMs: readonly number[];
}

/** How a relay answers a content request: the file to send, or a refusal. */
export type ContentAnswer = { path: string } | { status: 403 | 404 | 503; message: string };

/** A role's side of order handling; the agent core does intake, idempotency and lifecycle. */
export interface RoleService {
  /** The order kinds this role carries out; others are refused as `wrong_role`. */
  readonly kinds: ReadonlySet<OrderKind>;
  /** Loads what the role keeps on disk and starts its periodic work. */
  start(): Promise<void>;
  /** Stops periodic work and waits for it to settle. */
  stop(): Promise<void>;
  /** First receipt of an order: the status to record. A final one means there is nothing left to do. */
  admit(order: Order): Promise<StatusUpdate>;
  /**
   * What a receipt of a known order is answered with: its status, except where the role answers for the
   * order it acted on (a computer's cancel answers with the install's status, which keeps changing).
   */
  answer(record: OrderRecord): OrderStatus;
  /**
   * The background work of an admitted order, also called after a restart for orders left unfinished.
   * Records every state change in the book; stops (recording nothing more) when `signal` aborts. Work
   * whose order's `validUntil` has passed before its irreversible step began ends as `expired`.
   */
  carryOut(record: OrderRecord, signal: AbortSignal): Promise<void>;
  /** Resolves a computer's content request (relays serve packages; computers none); `signal` aborts when the agent stops. */
  content(packageId: string, ticket: string | undefined, signal: AbortSignal): Promise<ContentAnswer>;
}
