/**
 * Sends signed orders to agents over HTTP with msgpack bodies, and tells the two ways that can go wrong
 * apart: an agent that cannot be reached (worth retrying until the job's deadline) and one that refuses
 * the order (permanent: retrying the same order changes nothing).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
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

/** An agent's answer to one order. */
export interface OrderAnswer {
  status: number;
  body: Buffer;
}

/** POSTs one sealed order to `url`; rejects when the agent cannot be reached or takes longer than `timeoutMs`. */
export type OrderTransport = (url: string, body: Buffer, timeoutMs: number) => Promise<OrderAnswer>;

/**
 * Orders over node:http, one connection each (`agent: false`). An agent is sent an order every few minutes
 * at most, so a kept-alive connection would only hold memory; and fetch's connection pool keeps an entry
 * for every origin it ever reached, which for a fleet is every computer (docs/scaling.md measures both).
 */
export const httpTransport: OrderTransport = (url, body, timeoutMs) =>
  new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': ORDER_CONTENT_TYPE, accept: ORDER_CONTENT_TYPE, 'content-length': body.byteLength },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });

export interface AgentClientOptions {
  key: ServerKey;
  /** How orders travel; tests pass in-process agents. */
  transport?: OrderTransport;
  /** How long one request may take before the agent counts as unreachable. */
  requestTimeoutMs?: number;
  /** Hears of every order's round trip. */
  observe?: (roundTrip: OrderRoundTrip) => void;
}

/** A cause chain such as `connect ECONNREFUSED 127.0.0.1:4001`, for the target's detail. */
function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  for (let cause = error; cause instanceof Error && parts.length < 3; cause = cause.cause) parts.push(cause.message);
  return parts.join(': ') || String(error);
}

export class AgentClient {
  private readonly transport: OrderTransport;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: AgentClientOptions) {
    this.transport = options.transport ?? httpTransport;
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
    let answer: OrderAnswer;
    try {
      answer = await this.transport(`${agentUrl}/orders`, sealOrder(this.options.key, order), this.requestTimeoutMs);
    } catch (error) {
      throw new AgentUnreachable(agentUrl, describeNetworkError(error));
    }
    const { status, body } = answer;
    if (status >= 500) throw new AgentUnreachable(agentUrl, `HTTP ${status}`);
    if (status < 200 || status >= 300) {
      const refusal = safeUnpack(body) as Partial<OrderRefusal> | undefined;
      throw new AgentRefused(agentUrl, refusal?.error?.message ?? `HTTP ${status}`);
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
