/**
 * Stands between a client (an agent, a test's admin requests) and the api on loopback, as a network does:
 * it forwards every request to the managing server and records each exchange, and can lose agents' order
 * reports in transit (the agent hears they were delivered; the api never hears of them). It records every
 * report it saw and what became of it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One report the agent sent, and the api's answer when it got through. */
export interface SeenReport {
  jobId: string;
  state: string;
  lost: boolean;
  answer?: { status: number; body: unknown };
}

/** One request that went through, and the api's answer. */
export interface Exchange {
  method: string;
  /** The path, without the query string. */
  path: string;
  status: number;
  contentType: string;
  body: Buffer;
}

const REPORT_PATH = /^\/api\/v1\/jobs\/([^/]+)\/reports$/;

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class ApiProxy {
  readonly reports: SeenReport[] = [];
  readonly exchanges: Exchange[] = [];
  /** While true, reports are answered 202 and dropped. */
  lose = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Listens on a free loopback port and forwards to `apiUrl`. */
  static async start(apiUrl: string): Promise<ApiProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new ApiProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      void proxy.forward(apiUrl, request).then(
        ({ status, headers, body }) => {
          response.writeHead(status, headers);
          response.end(body);
        },
        (error: unknown) => {
          response.writeHead(502);
          response.end(String(error));
        },
      );
    });
    return proxy;
  }

  /** The states of the reports of `jobId` seen so far, in order. */
  statesOf(jobId: string, which: 'lost' | 'delivered'): string[] {
    return this.reports.filter((report) => report.jobId === jobId && report.lost === (which === 'lost')).map((report) => report.state);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async forward(apiUrl: string, request: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const body = await bodyOf(request);
    const report = REPORT_PATH.exec(request.url ?? '');
    const seen: SeenReport | undefined = report
      ? { jobId: decodeURIComponent(report[1]!), state: (JSON.parse(body.toString()) as { state: string }).state, lost: this.lose }
      : undefined;
    if (seen) this.reports.push(seen);
    if (seen?.lost) return { status: 202, headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers.set(name, value);
    }
    const answer = await fetch(`${apiUrl}${request.url}`, {
      method: request.method,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? undefined : body,
    });
    const answerBody = Buffer.from(await answer.arrayBuffer());
    if (seen) seen.answer = { status: answer.status, body: JSON.parse(answerBody.toString()) as unknown };
    const contentType = answer.headers.get('content-type') ?? 'application/octet-stream';
    const path = (request.url ?? '/').split('?')[0]!;
    this.exchanges.push({ method: request.method ?? 'GET', path, status: answer.status, contentType, body: answerBody });
    // The body is whole again here, so the hop's own framing headers do not pass.
    const answerHeaders: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!['connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) answerHeaders[name] = value;
    });
    return { status: answer.status, headers: answerHeaders, body: answerBody };
  }
}
