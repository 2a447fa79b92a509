/**
 * One HTTP listener for a whole simulated fleet: each agent is mounted under `/agents/<name>` (its
 * advertised URL), so 100,000 agents cost one socket and one express app, not 100,000. Agents can be
 * switched off: requests to them then meet a dropped connection, which the managing server takes for an
 * unreachable machine, as it would a laptop that is shut.
 */
import { createServer, type Server } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Log } from '../deps.js';
import { agentRoutes, type AgentHandlers, type ServedAgent, type SharedListener } from '../http.js';
import { close, defaultAdvertisedUrl, listen } from '../listen.js';

/** Where the fleet's agents live on the listener. */
const AGENTS_PATH = '/agents';
/**
 * Connections queued before the fleet's event loop accepts them. The listener stands for thousands of
 * machines, and with Node's default of 511 a burst of them (orders, downloads) overflows the queue: the
 * kernel drops their SYNs and clients time out connecting to a machine that is up.
 */
const LISTEN_BACKLOG = 4096;
/** A package download, relative to an agent's path. */
const CONTENT_PATH = /^\/packages\/[^/]+\/content$/;

/** The listener, the agents mounted on it, and which of them are switched off. */
export class FleetHost implements SharedListener {
  private readonly agents = new Map<string, AgentHandlers>();
  private readonly switchedOff = new Set<string>();
  /** Agents that were sent at least one order this run: the only ones whose order records need reading. */
  readonly ordered = new Set<string>();
  private readonly server: Server;
  private baseUrl: string | undefined;

  /**
   * `control` is served under `/fleet`, to loopback clients only; `onContent` hears of every package download
   * an agent is about to serve (with the response, to follow it to its end).
   */
  constructor(
    control: Router,
    log: Log,
    private readonly onContent: (agent: string, response: Response) => void,
  ) {
    const app = express();
    app.disable('x-powered-by');
    app.use('/fleet', loopbackOnly, control);
    app.use(`${AGENTS_PATH}/:agent`, (req, res, next) => this.admit(req, res, next), agentRoutes((req) => this.handlersOf(req), log));
    this.server = createServer(app);
  }

  /** The listener's base URL; agents' URLs are under it. */
  get url(): string {
    if (!this.baseUrl) throw new Error('the fleet host is not listening yet');
    return this.baseUrl;
  }

  /** Binds the listener (port 0 picks a free one) and returns its base URL. */
  async listen(host: string, port: number): Promise<string> {
    this.baseUrl = defaultAdvertisedUrl(host, await listen(this.server, port, host, LISTEN_BACKLOG));
    return this.baseUrl;
  }

  /** The URL agent `name` is (or would be) reachable at. */
  agentUrl(name: string): string {
    return `${this.url}${AGENTS_PATH}/${encodeURIComponent(name)}`;
  }

  /** Whether `url` points at an agent of this fleet. */
  isAgentUrl(url: string): boolean {
    return url.startsWith(`${this.url}${AGENTS_PATH}/`);
  }

  mount(name: string, handlers: AgentHandlers): ServedAgent {
    if (this.agents.has(name)) throw new Error(`an agent named ${name} is already mounted`);
    this.agents.set(name, handlers);
    return {
      url: this.agentUrl(name),
      close: async () => {
        this.agents.delete(name);
      },
    };
  }

  /** Switches a mounted agent off or on; false when no agent has that name. */
  setOnline(name: string, online: boolean): boolean {
    if (!this.agents.has(name)) return false;
    if (online) this.switchedOff.delete(name);
    else this.switchedOff.add(name);
    return true;
  }

  /** The agents switched off right now. */
  offline(): string[] {
    return [...this.switchedOff];
  }

  /** Stops listening and drops every open connection. */
  close(): Promise<void> {
    return close(this.server);
  }

  /** Lets a request through to a live agent; one switched off, or never mounted, gets no answer at all. */
  private admit(req: Request, res: Response, next: NextFunction): void {
    const name = agentName(req);
    if (!this.agents.has(name) || this.switchedOff.has(name)) {
      // As from a machine that is off (or an address where none is): the client sees the connection reset,
      // which the managing server counts as unreachable, never as a refusal.
      req.socket.destroy();
      return;
    }
    if (req.method === 'POST' && req.path === '/orders') this.ordered.add(name);
    else if (req.method === 'GET' && CONTENT_PATH.test(req.path)) this.onContent(name, res);
    next();
  }

  private handlersOf(req: Request): AgentHandlers {
    const handlers = this.agents.get(agentName(req));
    // admit() let the request through, so the agent was mounted; it may have been stopped since.
    if (!handlers) throw new Error(`agent ${agentName(req)} stopped while its request was being handled`);
    return handlers;
  }
}

/** The agent a request is for: the `:agent` part of its path. */
function agentName(req: Request): string {
  const { agent } = req.params;
  return typeof agent === 'string' ? agent : '';
}

/** The control routes switch machines off and reveal every agent's state: loopback clients only. */
function loopbackOnly(req: Request, res: Response, next: NextFunction): void {
  const address = req.socket.remoteAddress ?? '';
  if (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')) {
    next();
    return;
  }
  res.status(403).json({ error: { code: 'forbidden', message: 'the fleet control routes answer loopback clients only' } });
}
