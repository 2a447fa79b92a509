/**
 * The worker's AgentClient against a real HTTP server standing in for an agent: a signed order arrives
 * whole and the recorded status comes back; a refusal, a server error, a closed port and an agent that
 * never answers are each told apart; and every order travels on a connection of its own, closed after the
 * answer, so a fleet of agents leaves no pooled connection per computer behind.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, AgentRefused, AgentUnreachable } from '../../activities/agent-client.js';
import type { Order, OrderStatus } from '../../common/orders.js';
import { freePort } from '../../common/ports.js';
import { openOrder } from '../../trust/orders.js';
import { loadOrCreateServerKey, type ServerKey } from '../../trust/signing.js';

const AGENT_ID = 'agent-under-test';

let key: ServerKey;
let server: Server;
let agentUrl: string;
/** How the stand-in agent answers the next orders. */
let answer: (order: Order, response: ServerResponse) => void;
/** The `connection` header and socket of every order received. */
let received: { connection: string | undefined; socket: IncomingMessage['socket'] }[] = [];

function cancelOrder(): Order {
  const now = new Date();
  return {
    kind: 'cancel',
    jobId: randomUUID(),
    agentId: AGENT_ID,
    issuedAt: now.toISOString(),
    validUntil: new Date(now.getTime() + 60_000).toISOString(),
    packageId: randomUUID(),
  };
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/x-msgpack' }).end(pack(body));
}

beforeAll(async () => {
  key = await loadOrCreateServerKey(join(tmpdir(), `courier-key-${randomUUID()}.pem`));
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ connection: request.headers.connection, socket: request.socket });
      const order = openOrder(Buffer.concat(chunks), { publicKeyPem: key.publicKeyPem, agentId: AGENT_ID, now: new Date() });
      answer(order, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  received = [];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('AgentClient', () => {
  it('delivers the signed order and returns the status the agent recorded', async () => {
    answer = (order, response) =>
      reply(response, 200, { jobId: order.jobId, kind: order.kind, state: 'cancelled', updatedAt: new Date().toISOString() } satisfies OrderStatus);
    const order = cancelOrder();
    const status = await new AgentClient({ key }).send(agentUrl, order);
    expect(status).toMatchObject({ jobId: order.jobId, kind: 'cancel', state: 'cancelled' });
  });

  it('opens a connection for each order and closes it after the answer', async () => {
    answer = (order, response) => reply(response, 200, { jobId: order.jobId, kind: order.kind, state: 'cancelled', updatedAt: new Date().toISOString() });
    const client = new AgentClient({ key });
    for (let i = 0; i < 3; i += 1) await client.send(agentUrl, cancelOrder());
    expect(received.map((order) => order.connection)).toEqual(['close', 'close', 'close']);
    expect(new Set(received.map((order) => order.socket)).size).toBe(3);
  });

  it("tells a refusal (the agent's reason) from a server error and a closed port", async () => {
    const client = new AgentClient({ key });
    answer = (_order, response) => reply(response, 403, { error: { code: 'unknown_key', message: 'signed with another key' } });
    const refused = client.send(agentUrl, cancelOrder());
    await expect(refused).rejects.toBeInstanceOf(AgentRefused);
    await expect(refused).rejects.toThrow('refused the order: signed with another key');

    answer = (_order, response) => reply(response, 503, { error: { code: 'busy', message: 'try later' } });
    const failing = client.send(agentUrl, cancelOrder());
    await expect(failing).rejects.toBeInstanceOf(AgentUnreachable);
    await expect(failing).rejects.toThrow('HTTP 503');

    const closed = client.send(`http://127.0.0.1:${await freePort()}`, cancelOrder());
    await expect(closed).rejects.toBeInstanceOf(AgentUnreachable);
    await expect(closed).rejects.toThrow(/unreachable: .*ECONNREFUSED/);
  });

  it('gives up on an agent that does not answer within the timeout', async () => {
    answer = () => undefined;
    const started = Date.now();
    const silent = new AgentClient({ key, requestTimeoutMs: 300 }).send(agentUrl, cancelOrder());
    await expect(silent).rejects.toBeInstanceOf(AgentUnreachable);
    await expect(silent).rejects.toThrow(/unreachable: .*abort/i);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
