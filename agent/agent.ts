/**
 * One agent, relay or computer: its HTTP server, its enrolment and its order intake. Orders are
 * idempotent: the first receipt records the order and starts its work in the background; every receipt
 * answers the recorded status at once. No process-global state, so many agents can share a process.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ORDER_CONTENT_TYPE, type Order, type OrderRefusal, type OrderStatus } from '../common/orders.js';
import { openOrder, OrderRefused } from '../trust/orders.js';
import type { Clock, FetchLike, Log } from './deps.js';
import { DEFAULT_RETRY_DELAYS_MS } from './download.js';
import { enrol, saveIdentity, type AgentRole, type Identity } from './enrolment.js';
import { createAgentApp, type OrderAnswer } from './http.js';
import { Installer } from './installer.js';
import { orderShapeProblem } from './order-shape.js';
import { isFinal, orderKey, OrdersBook, type OrderRecord } from './orders-book.js';
import { agentPaths, type AgentPaths } from './paths.js';
import { Relay } from './relay.js';
import type { RoleService } from './role.js';

/** Everything an agent needs, injected: no process-global state, so many agents can share a process. */
export interface AgentOptions {
  role: AgentRole;
  name: string;
  dataDir: string;
  /** Base URL of the managing server's api. */
  serverUrl: string;
  enrollSecret: string;
  /** Computers: the name of their relay; absent when the managing server serves them directly. */
  relayName?: string;
  fetch: FetchLike;
  clock: Clock;
  log: Log;
  /** Relays: how often expired copies are deleted (default one minute). */
  sweepIntervalMs?: number;
  /** Backoff between download attempts after a connection error or 5xx. */
  retryDelaysMs?: readonly number[];
}

/** Where start() listens. */
export interface ListenOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

/** Answer to orders that arrive before enrolment has given the agent the key to verify them with. */
interface NotEnrolled {
  error: { code: 'not_enrolled'; message: string };
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/** One relay or computer agent. Create, start() once, stop(). */
export class Agent {
  private readonly paths: AgentPaths;
  private readonly book: OrdersBook;
  private readonly role: RoleService;
  private readonly log: Log;
  /** Aborted by stop(): cancels enrolment retries, downloads and running install commands. */
  private readonly stopping = new AbortController();
  private readonly work = new Set<Promise<void>>();
  private identity: Identity | undefined;
  private server: Server | undefined;

  constructor(private readonly options: AgentOptions) {
    this.paths = agentPaths(options.dataDir);
    this.book = new OrdersBook(this.paths.orders, options.clock);
    this.log = (message) => options.log(`courier agent ${options.name} (${options.role}): ${message}`);
    const deps = {
      paths: this.paths,
      book: this.book,
      fetch: options.fetch,
      clock: options.clock,
      log: this.log,
      identity: () => this.requireIdentity(),
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    };
    this.role =
      options.role === 'relay'
        ? new Relay({ ...deps, sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS })
        : new Installer(deps);
  }

  /** The id the managing server gave this agent; undefined until enrolled. */
  get id(): string | undefined {
    return this.identity?.id;
  }

  /**
   * Listens, enrols (retrying while the server is unreachable; EnrolmentRefused on a 4xx), resumes the
   * orders left unfinished by the last run, and returns the agent's base URL. An Agent starts only once.
   */
  async start(listen: ListenOptions): Promise<string> {
    await mkdir(this.paths.root, { recursive: true, mode: 0o700 });
    await this.book.load();
    await this.role.start();
    const host = listen.host ?? '127.0.0.1';
    const app = createAgentApp(
      {
        receiveOrder: (body) => this.receiveOrder(body),
        content: (packageId, ticket) =>
          this.identity
            ? this.role.content(packageId, ticket, this.stopping.signal)
            : Promise.resolve({ status: 503, message: 'the agent is enrolling; try again shortly' }),
      },
      this.log,
    );
    const server = createServer(app);
    this.server = server;
    let url: string;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      const identity = await enrol({
        serverUrl: this.options.serverUrl,
        enrollSecret: this.options.enrollSecret,
        role: this.options.role,
        name: this.options.name,
        url,
        relayName: this.options.relayName,
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
    for (const record of this.book.unfinished()) this.launch(record);
    return url;
  }

  /** Stops listening, cancels work in progress (it resumes at the next start) and waits for it to settle. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const server = this.server;
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await Promise.allSettled([...this.work]);
    await this.role.stop();
  }

  private requireIdentity(): Identity {
    if (!this.identity) throw new Error('the agent has not enrolled yet');
    return this.identity;
  }

  private async receiveOrder(body: Uint8Array | undefined): Promise<OrderAnswer> {
    if (!this.identity) {
      const answer: NotEnrolled = { error: { code: 'not_enrolled', message: 'the agent is enrolling; try again shortly' } };
      return { status: 503, body: answer };
    }
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
    // A repeat (same job, kind and package) is a status query, whatever state the order is in.
    const known = this.book.get(order);
    if (known) return statusAnswer(known.status);
    const { record, isNew } = await this.book.admit(order, await this.role.admit(order));
    if (isNew && !isFinal(record.status)) this.launch(record);
    return statusAnswer(record.status);
  }

  /** Runs an order's work in the background, tracked so stop() can wait for it. */
  private launch(record: OrderRecord): void {
    const { signal } = this.stopping;
    const task = this.role
      .carryOut(record, signal)
      .catch(async (error: unknown) => {
        // Stopped: the record keeps its last state and the next start resumes from there.
        if (signal.aborted) return;
        const message = error instanceof Error ? error.message : String(error);
        this.log(`order ${orderKey(record.order)} failed unexpectedly: ${message}`);
        await this.book.update(record.order, { state: 'failed', detail: `agent error: ${message}` });
      })
      .catch((error: unknown) => this.log(`cannot record the failure of order ${orderKey(record.order)}: ${String(error)}`))
      .finally(() => this.work.delete(task));
    this.work.add(task);
  }
}

function statusAnswer(status: OrderStatus): OrderAnswer {
  return { status: 200, body: status };
}

function refusal(code: OrderRefusal['error']['code'], message: string): OrderAnswer {
  const body: OrderRefusal = { error: { code, message } };
  return { status: code === 'bad_order' ? 400 : 403, body };
}
