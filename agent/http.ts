/**
 * The agent's HTTP surface: orders from the managing server (`POST /orders`, msgpack both ways), package
 * content for computers (`GET /packages/:packageId/content`, relays only) and `GET /health`. One agent
 * serves it as an app of its own; many agents in one process (the fleet simulator) mount it on one listener.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { pack } from 'msgpackr';
import { paceResponse, type BandwidthLimit } from '../common/bandwidth.js';
import { ORDER_CONTENT_TYPE, type OrderRefusal } from '../common/orders.js';
import type { Log } from './deps.js';
import type { ContentAnswer } from './role.js';

/** An HTTP answer to an order: status code and the value to msgpack-encode. */
export interface OrderAnswer {
  status: number;
  body: unknown;
}

/** What the HTTP layer calls; the agent core implements them. */
export interface AgentHandlers {
  receiveOrder: (body: Uint8Array | undefined) => Promise<OrderAnswer>;
  content: (packageId: string, ticket: string | undefined) => Promise<ContentAnswer>;
  /** The bandwidth limits content answers are paced by (a relay's, from its check-ins). */
  contentLimits: () => readonly BandwidthLimit[];
}

/** Orders carry a manifest and a few ids: far below this, so a larger body is refused unread. */
const ORDER_BODY_LIMIT = '1mb';

/** An agent's HTTP surface while it is served: the URL it enrols with, and how to stop serving it. */
export interface ServedAgent {
  /** The base URL the managing server appends `/orders` to. */
  url: string;
  close(): Promise<void>;
}

/** A listener many agents share: requests reach each mounted agent's handlers by its name. */
export interface SharedListener {
  mount(name: string, handlers: AgentHandlers): ServedAgent;
}

/** Builds the express app of one agent; `log` receives unexpected errors (their details never reach the client). */
export function createAgentApp(handlers: AgentHandlers, log: Log, requestLog?: RequestHandler): express.Express {
  const app = express();
  app.disable('x-powered-by');
  if (requestLog) app.use(requestLog);
  app.use(agentRoutes(() => handlers, log));
  return app;
}

/**
 * The agent routes, for whichever agent `handlersOf` picks for a request: always the same one in an app of
 * its own, the one named in the path on a shared listener. Paths are relative to where the router is mounted.
 */
export function agentRoutes(handlersOf: (req: Request) => AgentHandlers, log: Log): Router {
  // mergeParams lets handlersOf read parameters of the path the router is mounted under.
  const router = express.Router({ mergeParams: true });

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.post('/orders', express.raw({ type: ORDER_CONTENT_TYPE, limit: ORDER_BODY_LIMIT }), async (req, res) => {
    // express.raw leaves the body unset for other content types; the handler refuses that as a bad order.
    const body: unknown = req.body;
    const answer = await handlersOf(req).receiveOrder(Buffer.isBuffer(body) ? body : undefined);
    res.status(answer.status).type(ORDER_CONTENT_TYPE).send(pack(answer.body));
  });

  router.get('/packages/:packageId/content', async (req, res, next) => {
    const answer = await handlersOf(req).content(req.params.packageId, req.get('x-courier-ticket'));
    if ('status' in answer) {
      const code = { 403: 'forbidden', 404: 'not_found', 503: 'unavailable' }[answer.status];
      res.status(answer.status).json({ error: { code, message: answer.message } });
      return;
    }
    paceResponse(res, handlersOf(req).contentLimits());
    // send handles Range and If-Range, so computers resume interrupted downloads.
    res.sendFile(answer.path, { dotfiles: 'allow', headers: { 'content-type': 'application/octet-stream' } }, (error) => {
      if (!error) return;
      // The copy vanished between the check and the send (deleted or expired meanwhile).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !res.headersSent) {
        res.status(404).json({ error: { code: 'not_found', message: 'the copy is no longer held' } });
      } else {
        next(error);
      }
    });
  });

  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route on this agent' } });
  });
  router.use((error: Error & { status?: number }, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    // Body-parser errors (too large, unreadable) carry their 4xx status; anything else is ours.
    const clientError = error.status !== undefined && error.status >= 400 && error.status < 500;
    if (!clientError) log(`internal error on ${req.method} ${req.originalUrl}: ${error.stack ?? error.message}`);
    const status = clientError ? (error.status ?? 400) : 500;
    const message = clientError ? error.message : 'internal error';
    if (req.path === '/orders' && clientError) {
      const refusal: OrderRefusal = { error: { code: 'bad_order', message } };
      res.status(status).type(ORDER_CONTENT_TYPE).send(pack(refusal));
    } else {
      res.status(status).json({ error: { code: clientError ? 'bad_request' : 'internal', message } });
    }
  });
  return router;
}
