/**
 * The agent wire protocol: orders the managing server sends to relays and computers, and the status an
 * agent answers with. Every order carries the job it belongs to; a repeated order for the same job and
 * package is answered with the recorded status instead of being carried out again.
 */
import type { SignedManifest } from './manifest.js';

/** Orders and their answers travel as msgpack. */
export const ORDER_CONTENT_TYPE = 'application/x-msgpack';

/**
 * How long after `issuedAt` a sealed order may still be received (replay protection, unlike the job's own
 * `validUntil`), and the clock skew tolerated either side.
 */
export const ORDER_MAX_AGE_MS = 5 * 60_000;

/** What every order carries besides its own fields. */
export interface OrderBase {
  jobId: string;
  /** The agent the order is meant for: an order replayed to another agent is refused. */
  agentId: string;
  issuedAt: string;
  /**
   * When the job stops wanting the order carried out (ISO date-time). A new order received later is refused
   * as `expired`; an unfinished one whose irreversible step (a computer's install command; anything of a
   * relay's store) has not begun ends as `expired`, so an agent back after a week installs nothing stale.
   * A repeat of a known order is still answered with its status.
   */
  validUntil: string;
}

/**
 * Relay: keep the package until `expiresAt`. A relay holding an intact copy with that very expiry fetches
 * nothing; otherwise it fetches the package from `sourceUrl` again and verifies it.
 */
export interface StoreOrder extends OrderBase {
  kind: 'store';
  package: SignedManifest;
  sourceUrl: string;
  expiresAt: string;
}

/**
 * Relay: drop its copy of a package, if that copy expires at or before `expiresAt`: the copy the managing
 * server means. A copy with a later expiry came from a retransfer meanwhile and is kept (answered `stored`).
 */
export interface DeleteOrder extends OrderBase {
  kind: 'delete';
  packageId: string;
  expiresAt: string;
}

/** Computer: download, verify, check conditions and install. */
export interface InstallOrder extends OrderBase {
  kind: 'install';
  package: SignedManifest;
  source: DownloadSource;
  /**
   * How often the agent repeats the status of this order to the managing server while it is unfinished
   * (see OrderReport). The server counts an order silent after a few missed reports and repeats the order
   * as a status query. Absent in orders from older servers: DEFAULT_REPORT_EVERY_MS.
   */
  reportEveryMs?: number;
  /**
   * Run the install command even where the package is recorded as installed by another job (an admin
   * repairing an install). This job's own order is still carried out at most once. Absent: false.
   */
  reinstall?: boolean;
  /**
   * The job's maintenance window opens then, and the job lets computers download outside it: download,
   * verify and extract now, and run the command only from then on (reporting `waiting_for_window` while
   * it waits). Absent: install at once.
   */
  installNotBefore?: string;
}

/** Computer: show the package on the self-service page until `deadline`, for the user to choose. */
export interface OfferOrder extends OrderBase {
  kind: 'offer';
  package: SignedManifest;
  deadline: string;
}

/** Computer: take an offer off the self-service page (the admin cancelled the offer job). */
export interface WithdrawOrder extends OrderBase {
  kind: 'withdraw';
  packageId: string;
}

/**
 * Computer: the job was cancelled. Its install order ends `cancelled` unless the install command has
 * started (a half-run installer is worse than a finished one: it runs to its end); its offer is withdrawn.
 * When neither has arrived yet, the cancel is remembered and a later install order of the job is answered
 * `cancelled` without doing anything. The answer is the status of the install (or offer) order acted on,
 * or the cancel's own `cancelled` status when there was none.
 */
export interface CancelOrder extends OrderBase {
  kind: 'cancel';
  packageId: string;
}

/** Any order an agent may receive. */
export type Order = StoreOrder | DeleteOrder | InstallOrder | OfferOrder | WithdrawOrder | CancelOrder;
export type OrderKind = Order['kind'];

/**
 * Where a computer fetches content: its relay, or the managing server when it has none. Relays accept the
 * server-signed ticket; the managing server accepts the computer's own agent token.
 */
export interface DownloadSource {
  url: string;
  via: 'relay' | 'server';
  ticket: string;
}

/** A download ticket: lets one computer read one package from a relay until it expires. */
export interface DownloadTicket {
  packageId: string;
  computerId: string;
  expiresAt: string;
}

/** Progress and outcome of an order, as the agent records it in its data folder. */
export type OrderState =
  | 'transferring'
  | 'stored'
  | 'deleted'
  | 'downloading'
  /** Downloaded and verified; the install command waits for the order's `installNotBefore`. */
  | 'waiting_for_window'
  | 'installing'
  | 'installed'
  | 'failed'
  | 'rejected'
  | 'conditions_not_met'
  | 'offered'
  | 'withdrawn'
  /** The order's `validUntil` passed before its irreversible step began. */
  | 'expired'
  /** A cancel order stopped it before its install command started (or came before it). */
  | 'cancelled';

/** States an order never leaves; a repeat of such an order only reads its status. */
export const finalOrderStates: ReadonlySet<OrderState> = new Set<OrderState>([
  'stored',
  'deleted',
  'installed',
  'failed',
  'rejected',
  'conditions_not_met',
  'offered',
  'withdrawn',
  'expired',
  'cancelled',
]);

/** An agent's answer to an order (and to every repeat of it). */
export interface OrderStatus {
  jobId: string;
  kind: OrderKind;
  state: OrderState;
  /** Why it ended as it did, or what it is doing now; always set for failures. */
  detail?: string;
  exitCode?: number;
  /** The last few kilobytes of the install command's output. */
  outputTail?: string;
  /**
   * Bytes received so far (downloads and transfers). For a finished `store`, what this order fetched:
   * 0 when the relay already held an intact copy with the same expiry.
   */
  bytes?: number;
  /** For `stored` (also a delete's answer when it kept a fresher copy): the expiry the relay keeps the copy until. */
  expiresAt?: string;
  updatedAt: string;
}

/** Report interval of install orders that do not name one. */
export const DEFAULT_REPORT_EVERY_MS = 30_000;

/**
 * What a computer tells the managing server about one of its install orders, with its own token, at every
 * change of state and every `reportEveryMs` while the order is unfinished: `POST /api/v1/jobs/:jobId/reports`
 * (JSON). The managing server learns of progress and outcomes this way instead of polling the agent.
 */
export interface OrderReport extends OrderProgress {
  kind: 'install';
  packageId: string;
}

/** The part of an order's status that tells how the order is going (`updatedAt`: when the agent recorded it). */
export type OrderProgress = Pick<OrderStatus, 'state' | 'detail' | 'exitCode' | 'outputTail' | 'bytes' | 'updatedAt'>;

/** The path an agent posts an OrderReport of job `jobId` to, under the api's base URL. */
export function reportPath(jobId: string): string {
  return `/api/v1/jobs/${encodeURIComponent(jobId)}/reports`;
}

/**
 * Error body of a refused order: HTTP 4xx, or 503 `not_enrolled` while the agent has no key to verify with.
 * `expired`: a new order received after its `validUntil`.
 */
export interface OrderRefusal {
  error: {
    code: 'unsigned' | 'unknown_key' | 'bad_signature' | 'stale' | 'wrong_agent' | 'bad_order' | 'wrong_role' | 'expired' | 'not_enrolled';
    message: string;
  };
}
