/**
 * One agent, relay or computer: its HTTP server, its enrolment and its order intake, and for computers the
 * self-service page and the reports of their install orders to the managing server. Orders are idempotent:
 * the first receipt records the order and starts its work in the background; every receipt answers the
 * recorded status at once. No process-global state, so many agents can share a process.
 */
import { mkdir } from 'node:fs/promises';
import type { RequestHandler } from 'express';
import { errorMessage } from '../common/errors.js';
import { ORDER_CONTENT_TYPE, type Order, type OrderRefusal, type OrderStatus } from '../common/orders.js';
import type { OfferChoice } from '../common/workflows.js';
import { openOrder, OrderRefused } from '../trust/orders.js';
import { BandwidthLimit } from '../common/bandwidth.js';
import { checkInUntilStopped } from './check-ins.js';
import { sendChoice } from './choice-client.js';
import { Computer } from './computer.js';
import type { Clock, FetchLike, Log } from './deps.js';
import { DEFAULT_RETRY_DELAYS_MS } from './download.js';
import { enrol, loadIdentity, saveIdentity, type AgentRole, type Identity } from './enrolment.js';
import { createAgentApp, type AgentHandlers, type OrderAnswer, type ServedAgent, type SharedListener } from './http.js';
import { listenAlone, type OwnListener } from './listen.js';
import { Offers, type ChoiceAnswer } from './offers.js';
import { orderShapeProblem } from './order-shape.js';
import { isFinal, orderKey, OrdersBook, type OrderRecord } from './orders-book.js';
import { AgentPaths } from './paths.js';
import { Relay } from './relay.js';
import type { Backoff } from './backoff.js';
import { OrderReporter } from './reporter.js';
import type { RoleService } from './role.js';
import type { CommandRunner } from './run-command.js';
import { startSelfService, type SelfServicePage } from './self-service/server.js';
import { hasExpired } from './validity.js';
import type { Labels } from '../common/labels.js';

/** Everything an agent needs, injected: no process-global state, so many agents can share a process. */
export interface AgentOptions {
  role: AgentRole;
  name: string;
  dataDir: string;
  /** Base URL of the managing server's api. */
  serverUrl: string;
  enrollSecret: string;
  /** The server's signing key (`sha256:…`), when the operator names it rather than trusting the first enrolment. */
  serverKeyFingerprint?: string;
  /** Computers: the name of their relay; absent when the managing server serves them directly. */
  relayName?: string;
  /** Computers: labels set at each enrolment (common/labels.ts). */
  labels?: Labels;
  fetch: FetchLike;
  clock: Clock;
  log: Log;
  /** Relays: how often expired copies are deleted (default one minute). */
  sweepIntervalMs?: number;
  /** Backoff between download attempts after a connection error or 5xx. */
  retryDelaysMs?: readonly number[];
  /** Computers: runs install commands (default: `sh -c` for real); the fleet simulator passes a simulated one. */
  runCommand?: CommandRunner;
  /** Computers: backoff between attempts to report an install order after a connection error or 5xx. */
  reportBackoff?: Backoff;
  /** Logs every request to the agent's own listener (the CLI's structured log); none when absent. */
  requestLog?: RequestHandler;
}

/** Where start() listens when the agent has a listener of its own. */
export interface ListenOptions extends OwnListener {
  /** Computers: serve the self-service page on 127.0.0.1 at this port (0 picks a free one). */
  uiPort?: number;
}

/** Where start() serves an agent that shares one listener with many others (the fleet simulator). */
export interface SharedListenOptions {
  shared: SharedListener;
}

/** Where a started agent can be reached. */
export interface AgentUrls {
  /** The URL the agent enrolled with: where the managing server sends its orders. */
  url: string;
  /** The self-service page, when one was asked for. */
  pageUrl?: string;
}

const NOT_ENROLLED: OrderRefusal = { error: { code: 'not_enrolled', message: 'the agent is enrolling; try again shortly' } };

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/** One relay or computer agent. Create, start() once, stop(). */
export class Agent {
  private readonly paths: AgentPaths;
  private readonly book: OrdersBook;
  private readonly role: RoleService;
  /** A relay's bandwidth limit, as its last check-in named it: what it serves its computers is paced by it. */
  private contentLimit: BandwidthLimit | undefined;
  /** Computers only. */
  private readonly offers: Offers | undefined;
  /** Computers only: tells the managing server how their install orders go. */
  private readonly reporter: OrderReporter | undefined;
  private readonly log: Log;
  /** Aborted by stop(): cancels enrolment retries, downloads and running install commands. */
  private readonly stopping = new AbortController();
  private readonly work = new Set<Promise<void>>();
  private identity: Identity | undefined;
  private http: ServedAgent | undefined;
  private page: SelfServicePage | undefined;

  constructor(private readonly options: AgentOptions) {
    this.paths = new AgentPaths(options.dataDir);
    this.log = (message, fields) => options.log(`courier agent ${options.name} (${options.role}): ${message}`, fields);
    this.book = new OrdersBook(this.paths.orders, options.clock, this.log, (record) => this.reporter?.report(record));
    const deps = {
      paths: this.paths,
      book: this.book,
      fetch: options.fetch,
      clock: options.clock,
      log: this.log,
      identity: () => this.requireIdentity(),
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    };
    if (options.role === 'relay') {
      this.role = new Relay({ ...deps, sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS });
    } else {
      const forward = (jobId: string, choice: OfferChoice) => this.forwardChoice(jobId, choice);
      this.offers = new Offers({ book: this.book, clock: options.clock, choicesDir: this.paths.choices, forward, log: this.log });
      this.role = new Computer(deps, this.offers, options.runCommand);
      this.reporter = new OrderReporter({
        serverUrl: options.serverUrl,
        token: () => this.requireIdentity().token,
        log: this.log,
        signal: this.stopping.signal,
        backoff: options.reportBackoff,
      });
    }
  }

  /** Takes the bandwidth limit a check-in named; the same rate keeps its limit, so downloads under way stay paced. */
  private limitContent(bytesPerSecond: number | null): void {
    if (bytesPerSecond === null) this.contentLimit = undefined;
    else if (this.contentLimit?.bytesPerSecond !== bytesPerSecond) this.contentLimit = new BandwidthLimit(bytesPerSecond);
  }

  /** The id the managing server gave this agent; undefined until enrolled. */
  get id(): string | undefined {
    return this.identity?.id;
  }

  /**
   * Listens (and opens the self-service page, which shows remembered offers even while the server is
   * away), enrols (retrying while the server is unreachable; EnrolmentRefused on a 4xx), resumes the orders
   * left unfinished by the last run, and returns where the agent is. An Agent starts only once.
   */
  async start(where: ListenOptions | SharedListenOptions): Promise<AgentUrls> {
    const uiPort = 'shared' in where ? undefined : where.uiPort;
    if (uiPort !== undefined && !this.offers) throw new Error('only computers have a self-service page');
    await mkdir(this.paths.root, { recursive: true, mode: 0o700 });
    await this.book.load();
    await this.role.start();
    const handlers: AgentHandlers = {
      receiveOrder: (body) => this.receiveOrder(body),
      content: (packageId, ticket) =>
        this.identity
          ? this.role.content(packageId, ticket, this.stopping.signal)
          : Promise.resolve({ status: 503, message: 'the agent is enrolling; try again shortly' }),
      contentLimits: () => (this.contentLimit ? [this.contentLimit] : []),
    };
    let url: string;
    try {
      this.http =
        'shared' in where ? where.shared.mount(this.options.name, handlers) : await listenAlone(createAgentApp(handlers, this.log, this.options.requestLog), where);
      url = this.http.url;
      if (this.offers && uiPort !== undefined) {
        this.page = await startSelfService({ agentName: this.options.name, offers: this.offers, port: uiPort, log: this.log });
      }
      const identity = await enrol({
        serverUrl: this.options.serverUrl,
        enrollSecret: this.options.enrollSecret,
        role: this.options.role,
        name: this.options.name,
        url,
        relayName: this.options.relayName,
        labels: this.options.labels,
        known: await loadIdentity(this.paths.identity, this.log),
        serverKeyFingerprint: this.options.serverKeyFingerprint,
        fetch: this.options.fetch,
        signal: this.stopping.signal,
        log: this.log,
      });
      await saveIdentity(this.paths.identity, identity);
      this.identity = identity;
    } catch (error) {
      await this.stop();
      throw error;
    }
    for (const record of this.book.unfinished()) {
      this.reporter?.report(record);
      this.launch(record);
    }
    const advertised = url;
    this.work.add(
      checkInUntilStopped({
        serverUrl: this.options.serverUrl,
        token: () => this.requireIdentity().token,
        url: () => advertised,
        fetch: this.options.fetch,
        log: this.log,
        signal: this.stopping.signal,
        onBandwidthLimit: (bytesPerSecond) => this.limitContent(bytesPerSecond),
      }),
    );
    return { url, pageUrl: this.page?.url };
  }

  /** Stops listening, cancels work in progress (it resumes at the next start) and waits for it to settle. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.http?.close();
    await this.page?.close();
    await Promise.allSettled([...this.work]);
    await this.role.stop();
  }

  private requireIdentity(): Identity {
    if (!this.identity) throw new Error('the agent has not enrolled yet');
    return this.identity;
  }

  /** A user's choice from the page, sent on to the managing server with this agent's own token. */
  private async forwardChoice(jobId: string, choice: OfferChoice): Promise<ChoiceAnswer> {
    if (!this.identity) return { status: 503, body: NOT_ENROLLED };
    const { serverUrl, fetch } = this.options;
    return sendChoice({ serverUrl, token: this.identity.token, jobId, choice, fetch, signal: this.stopping.signal });
  }

  private async receiveOrder(body: Uint8Array | undefined): Promise<OrderAnswer> {
    // Before enrolment the agent has no key to verify an order with.
    if (!this.identity) return { status: 503, body: NOT_ENROLLED };
    if (!body) return refusal('bad_order', `an order must be an ${ORDER_CONTENT_TYPE} body`);
    let order: Order;
    try {
      order = openOrder(body, {
        publicKeyPem: this.identity.serverPublicKey,
        agentId: this.identity.id,
        now: this.options.clock.now(),
      });
    } catch (error) {
      if (error instanceof OrderRefused) return refusal(error.code, error.message);
      throw error;
    }
    const problem = orderShapeProblem(order);
    if (problem) return refusal('bad_order', `malformed order: ${problem}`);
    if (!this.role.kinds.has(order.kind)) {
      return refusal('wrong_role', `a ${this.options.role} does not carry out ${order.kind} orders`);
    }
    // A repeat (same job, kind and package) is a status query, whatever state the order is in, even expired.
    const known = this.book.get(order);
    if (known) return statusAnswer(this.role.answer(known));
    if (hasExpired(order, this.options.clock.now())) {
      return refusal('expired', `the order was valid until ${order.validUntil}; the job no longer wants it carried out`);
    }
    const { record, isNew } = await this.book.admit(order, await this.role.admit(order));
    if (isNew && !isFinal(record.status)) {
      // The order's answer tells the server the admitted state; reports follow its changes and repeat it.
      this.reporter?.report(record, true);
      this.launch(record);
    }
    return statusAnswer(this.role.answer(record));
  }

  /** Runs an order's work in the background, tracked so stop() can wait for it. */
  private launch(record: OrderRecord): void {
    const { signal } = this.stopping;
    const task = this.role
      .carryOut(record, signal)
      .catch(async (error: unknown) => {
        // Stopped: the record keeps its last state and the next start resumes from there.
        if (signal.aborted) return;
        const message = errorMessage(error);
        this.log(`order ${orderKey(record.order)} failed unexpectedly: ${message}`, { jobId: record.order.jobId });
        await this.book.update(record.order, { state: 'failed', detail: `agent error: ${message}` });
      })
      .catch((error: unknown) => this.log(`cannot record the failure of order ${orderKey(record.order)}: ${String(error)}`, { jobId: record.order.jobId }))
      .finally(() => this.work.delete(task));
    this.work.add(task);
  }

  /**
   * The user's Install or Decline on an offer, exactly as the self-service page makes it (the fleet
   * simulator's users choose through this). Relays have no offers: 404.
   */
  choose(jobId: string, choice: OfferChoice): Promise<ChoiceAnswer> {
    if (!this.offers) return Promise.resolve({ status: 404, body: { error: { code: 'not_found', message: 'a relay has no offers' } } });
    return this.offers.choose(jobId, choice);
  }
}

function statusAnswer(status: OrderStatus): OrderAnswer {
  return { status: 200, body: status };
}

function refusal(code: OrderRefusal['error']['code'], message: string): OrderAnswer {
  const body: OrderRefusal = { error: { code, message } };
  return { status: code === 'bad_order' ? 400 : 403, body };
}
