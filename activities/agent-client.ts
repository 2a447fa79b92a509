/**
 * Sends signed orders to agents over HTTP with msgpack bodies, and tells the two ways that can go wrong
 * apart: an agent that cannot be reached (worth retrying until the job's deadline) and one that refuses
 * the order (permanent: retrying the same order changes nothing).
 */
import { unpack } from 'msgpackr';
import { ORDER_CONTENT_TYPE, type Order, type OrderRefusal, type OrderStatus } from '../common/orders.js';
import { sealOrder } from '../trust/orders.js';
import type { ServerKey } from '../trust/signing.js';

/** The agent did not answer, or answered with a server error. */
export class AgentUnreachable extends Error {
  constructor(url: string, reason: string) {
    super(`agent at ${url} unreachable: ${reason}`);
    this.name = 'AgentUnreachable';
  }
}

/** The agent answered and refused the order. */
export class AgentRefused extends Error {
  constructor(url: string, reason: string) {
    super(`agent at ${url} refused the order: ${reason}`);
    this.name = 'AgentRefused';
  }
}

/** One order sent and how it went, for the worker's metrics. */
export interface OrderRoundTrip {
  kind: Order['kind'];
  /** `answered` with the order's status, `refused` by the agent, or the agent was `unreachable`. */
  outcome: 'answered' | 'refused' | 'unreachable';
  seconds: number;
}

export interface AgentClientOptions {
  key: ServerKey;
  fetch?: typeof fetch;
  /** How long one request may take before the agent counts as unreachable. */
  requestTimeoutMs?: number;
  /** Hears of every order's round trip. */
  observe?: (roundTrip: OrderRoundTrip) => void;
}

/** A cause chain such as `fetch failed: connect ECONNREFUSED 127.0.0.1:4001`, for the target's detail. */
function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  for (let cause = error; cause instanceof Error && parts.length < 3; cause = cause.cause) parts.push(cause.message);
  return parts.join(': ') || String(error);
}

export class AgentClient {
  private readonly fetch: typeof fetch;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: AgentClientOptions) {
    this.fetch = options.fetch ?? fetch;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /** Sends an order (or repeats it, which asks for its status) and returns the agent's recorded status. */
  async send(agentUrl: string, order: Order): Promise<OrderStatus> {
    const started = performance.now();
    const observe = (outcome: OrderRoundTrip['outcome']) =>
      this.options.observe?.({ kind: order.kind, outcome, seconds: (performance.now() - started) / 1000 });
    try {
      const status = await this.exchange(agentUrl, order);
      observe('answered');
      return status;
    } catch (error) {
      observe(error instanceof AgentRefused ? 'refused' : 'unreachable');
      throw error;
    }
  }

  private async exchange(agentUrl: string, order: Order): Promise<OrderStatus> {
    let response: Response;
    try {
      response = await this.fetch(`${agentUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': ORDER_CONTENT_TYPE, accept: ORDER_CONTENT_TYPE },
        body: sealOrder(this.options.key, order),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      throw new AgentUnreachable(agentUrl, describeNetworkError(error));
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status >= 500) throw new AgentUnreachable(agentUrl, `HTTP ${response.status}`);
    if (!response.ok) {
      const refusal = safeUnpack(body) as Partial<OrderRefusal> | undefined;
      throw new AgentRefused(agentUrl, refusal?.error?.message ?? `HTTP ${response.status}`);
    }
    return unpack(body) as OrderStatus;
  }
}

function safeUnpack(body: Buffer): unknown {
  try {
    return unpack(body);
  } catch {
    return undefined;
  }
}
