/** Listening and the URLs that name a listening server: shared by the order server and the self-service page. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServedAgent } from './http.js';

/** Where an agent with a listener of its own listens. */
export interface OwnListener {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * The URL the managing server sends orders to, when it differs from the bound address (a container's
   * service name, a NAT). Default: `http://host:port`, with a wildcard host replaced by loopback.
   */
  advertiseUrl?: string;
}

/** Serves `app` on a server of its own, as the one agent of a process does. */
export async function listenAlone(app: RequestListener, where: OwnListener): Promise<ServedAgent> {
  const host = where.host ?? '127.0.0.1';
  const server = createServer(app);
  const port = await listen(server, where.port, host);
  return { url: where.advertiseUrl ?? defaultAdvertisedUrl(host, port), close: () => close(server) };
}

/**
 * Binds `server` and returns the port it got (a free one when `port` is 0). `backlog`: connections the
 * kernel queues before they are accepted (Node's default is 511; the kernel caps it at somaxconn).
 */
export async function listen(server: Server, port: number, host: string, backlog?: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes `server`, dropping open connections (kept-alive ones would otherwise hold it open). */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** `http://host:port`, with IPv6 addresses in brackets. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The URL the managing server is told to send orders to, when no --advertise-url names one: the bound
 * address, except that a wildcard address is no address to connect to, so it becomes loopback.
 */
export function defaultAdvertisedUrl(host: string, port: number): string {
  if (host === '0.0.0.0') return httpUrl('127.0.0.1', port);
  if (host === '::') return httpUrl('::1', port);
  return httpUrl(host, port);
}
