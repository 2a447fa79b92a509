/**
 * A computer's reports of its install orders to the managing server (`POST /api/v1/jobs/:jobId/reports`,
 * with the agent's own token): every change of state at once, and the current status again every
 * `reportEveryMs` while the order is unfinished, so the server learns outcomes without polling and can
 * tell a working computer from a silent one. A final status is retried until it gets through or the agent
 * stops. Built for the fleet simulator's many agents in one process: one small entry and at most one timer
 * per unfinished order, nothing that polls.
 *
 * Reports go over undici's `request`, not `fetch`: they are most of what a fleet sends the managing server,
 * and for one small JSON exchange fetch's web streams cost several times the CPU (measured on loopback:
 * about 440 µs against 100 µs a report). The TLS trust is the same: both take Node's CA store, with
 * NODE_EXTRA_CA_CERTS.
 */
import { request } from 'undici';
import { causeMessage, errorMessage } from '../common/errors.js';
import { DEFAULT_REPORT_EVERY_MS, reportPath, type InstallOrder, type OrderReport, type OrderStatus } from '../common/orders.js';
import { backoffDelayMs, RETRYABLE_CLIENT_ERRORS, type Backoff } from './backoff.js';
import type { Log } from './deps.js';
import { isFinal, orderKey, type OrderRecord } from './orders-book.js';

/** A server that is down for minutes hears from each order every 30 s or so, not in a burst when it returns. */
const DEFAULT_REPORT_BACKOFF: Backoff = { firstMs: 1000, maxMs: 30_000 };

/** A server that has not answered by then is treated as unreachable, and the report is tried again. */
const REPORT_TIMEOUT_MS = 15_000;

/** How much of a refusal's body the log line quotes. */
const REFUSAL_QUOTE_CHARS = 200;

/** What the reporter needs from its agent. */
export interface ReporterOptions {
  /** Base URL of the managing server's api. */
  serverUrl: string;
  /** The agent's own token, read at each request: the reporter exists before the agent has enrolled. */
  token: () => string;
  log: Log;
  /** The agent stopping: every timer is cleared and every request in flight aborted. */
  signal: AbortSignal;
  /** After a connection error or a 5xx. */
  backoff?: Backoff;
}

/** The reporting of one order. */
interface Reporting {
  order: InstallOrder;
  /** The book's own record, whose status the book keeps current (download bytes included): each request sends it as it is then. */
  record: OrderRecord;
  /** The order's one timer: its next repeat, its next retry, or the timeout of its request in flight. */
  timer: NodeJS.Timeout | undefined;
  /** The request in flight, if any. */
  request: AbortController | undefined;
  /** The status changed while a request was in flight: once that one is delivered, send again at once. */
  changed: boolean;
  /** Failed attempts in a row, for the backoff. */
  failures: number;
  /** The server refused a report: nothing more is sent. Kept until the order ends, so later changes are not sent either. */
  refused: boolean;
}

type Outcome = 'delivered' | 'retry' | 'refused';

/** Reports the install orders of one computer; see the file comment. */
export class OrderReporter {
  /** By order key: orders unfinished or whose final status is still on its way, and refused orders until they end. */
  private readonly reporting = new Map<string, Reporting>();
  private readonly backoff: Backoff;
  private readonly endpointBase: string;

  constructor(private readonly options: ReporterOptions) {
    this.backoff = options.backoff ?? DEFAULT_REPORT_BACKOFF;
    this.endpointBase = options.serverUrl.replace(/\/+$/, '');
    options.signal.addEventListener('abort', () => this.stopAll(), { once: true });
  }

  /**
   * Tells the reporter that an install order's status changed, or that an unfinished one is under way
   * (admitted, or resumed at start). The current status is sent at once, or when the request in flight
   * ends (after its backoff, if it failed), superseding any not yet sent; it is then repeated until a final
   * status is delivered.
   * `record` must be the book's own, which stays current. Other kinds of orders are not reported, nor a
   * final status of an order not being reported: that status has been delivered already, or refused.
   * `answered`: the managing server has just heard this status as the answer to its order, so the first
   * report waits for the next change or repeat (a fleet of orders costs the api one request less each).
   */
  report(record: OrderRecord, answered = false): void {
    const { order } = record;
    if (order.kind !== 'install' || this.options.signal.aborted) return;
    const key = orderKey(order);
    const reporting = this.reporting.get(key);
    if (!reporting) {
      if (isFinal(record.status)) return;
      const started: Reporting = { order, record, timer: undefined, request: undefined, changed: false, failures: 0, refused: false };
      this.reporting.set(key, started);
      if (answered) this.schedule(key, started, order.reportEveryMs ?? DEFAULT_REPORT_EVERY_MS);
      else void this.send(key, started);
    } else if (reporting.refused) {
      if (isFinal(record.status)) this.reporting.delete(key);
    } else if (reporting.request) {
      reporting.changed = true;
    } else {
      // A change is news: it does not wait for the next repeat, nor for a retry's backoff.
      clearTimeout(reporting.timer);
      void this.send(key, reporting);
    }
  }

  /** Sends the current status, then arranges what comes next. Never rejects. */
  private async send(key: string, reporting: Reporting): Promise<void> {
    const { status } = reporting.record;
    reporting.changed = false;
    const outcome = await this.post(reporting, status);
    clearTimeout(reporting.timer);
    reporting.timer = undefined;
    reporting.request = undefined;
    if (this.options.signal.aborted) return;
    if (outcome === 'refused') {
      reporting.refused = true;
      if (isFinal(reporting.record.status)) this.reporting.delete(key);
    } else if (outcome === 'retry') {
      reporting.failures += 1;
      this.schedule(key, reporting, backoffDelayMs(this.backoff, reporting.failures));
    } else {
      reporting.failures = 0;
      if (reporting.changed) void this.send(key, reporting);
      else if (isFinal(status)) this.reporting.delete(key);
      else this.schedule(key, reporting, reporting.order.reportEveryMs ?? DEFAULT_REPORT_EVERY_MS);
    }
  }

  private schedule(key: string, reporting: Reporting, delayMs: number): void {
    reporting.timer = setTimeout(() => void this.send(key, reporting), delayMs);
  }

  /** One request; logs the first failure of a run of them, and a refusal. */
  private async post(reporting: Reporting, status: OrderStatus): Promise<Outcome> {
    const { order } = reporting;
    const abort = new AbortController();
    reporting.request = abort;
    reporting.timer = setTimeout(() => abort.abort(new Error(`no answer within ${REPORT_TIMEOUT_MS} ms`)), REPORT_TIMEOUT_MS);
    let problem: string;
    try {
      const response = await request(`${this.endpointBase}${reportPath(order.jobId)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token()}`, 'content-type': 'application/json' },
        body: JSON.stringify(reportOf(order, status)),
        signal: abort.signal,
      });
      // Read to the end either way, so the connection can be reused.
      const text = await response.body.text();
      if (response.statusCode < 300) return 'delivered';
      if (response.statusCode < 500 && !RETRYABLE_CLIENT_ERRORS.has(response.statusCode)) {
        const quote = text.slice(0, REFUSAL_QUOTE_CHARS);
        this.options.log(`reports of order ${orderKey(order)} stopped: the managing server refused one with HTTP ${response.statusCode}: ${quote}`, {
          jobId: order.jobId,
        });
        return 'refused';
      }
      problem = `the managing server answered HTTP ${response.statusCode}`;
    } catch (error) {
      // A timeout aborts the request with a reason of ours; a failed connection may carry its reason as the cause.
      const reason = abort.signal.aborted ? errorMessage(abort.signal.reason) : causeMessage(error);
      problem = `the managing server could not be reached: ${reason}`;
    }
    if (reporting.failures === 0 && !this.options.signal.aborted) {
      this.options.log(`cannot report order ${orderKey(order)} yet (${problem}); retrying with backoff`, { jobId: order.jobId });
    }
    return 'retry';
  }

  private stopAll(): void {
    for (const reporting of this.reporting.values()) {
      clearTimeout(reporting.timer);
      reporting.request?.abort(this.options.signal.reason);
    }
    this.reporting.clear();
  }
}

function reportOf(order: InstallOrder, status: OrderStatus): OrderReport {
  const { state, detail, exitCode, outputTail, bytes, updatedAt } = status;
  return { kind: 'install', packageId: order.package.manifest.packageId, state, detail, exitCode, outputTail, bytes, updatedAt };
}
