/**
 * The self-service page's HTTP server, on loopback only whatever address the agent's order server binds:
 * `GET /` (the page), `GET /api/offers` and `POST /api/offers/:jobId/choice`.
 *
 * Any web page the user visits could send requests to a loopback port, so a choice is taken only as a JSON
 * body (which a cross-site page cannot send without a CORS preflight this server never grants) and, when
 * the browser names an Origin, only from the page's own. Every request must also name this server by its
 * loopback host, which shuts out DNS-rebinding pages that would otherwise pass as same-origin.
 */
import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { offerChoices } from '../../common/states.js';
import type { Log } from '../deps.js';
import { close, httpUrl, listen } from '../listen.js';
import type { Offers } from '../offers.js';
import { PAGE_SECURITY_POLICY, renderPage } from './page.js';
import { displayed } from './wording.js';

/** What the page serves and who it is for. */
export interface SelfServiceOptions {
  agentName: string;
  offers: Pick<Offers, 'list' | 'choose'>;
  /** 0 picks a free port. */
  port: number;
  log: Log;
}

/** A listening page. */
export interface SelfServicePage {
  url: string;
  close(): Promise<void>;
}

/** The page is for the person at this computer: it is never bound to another interface. */
const LOOPBACK = '127.0.0.1';

const choiceSchema = z.object({ choice: z.enum(offerChoices) });

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Starts the page on 127.0.0.1:`port` and returns its URL. */
export async function startSelfService(options: SelfServiceOptions): Promise<SelfServicePage> {
  // Filled in once the port is known; no request arrives before that.
  const hosts = new Set<string>();
  const origins = new Set<string>();
  const app = express();
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    res.set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    if (hosts.has(req.get('host') ?? '')) {
      next();
      return;
    }
    fail(res, 403, 'wrong_host', 'the self-service page answers only at its own loopback address');
  });

  app.get('/', (_req, res) => {
    res.set({ 'content-security-policy': PAGE_SECURITY_POLICY, 'x-frame-options': 'DENY' });
    res.type('html').send(renderPage(options.agentName, options.offers.list().map(displayed)));
  });

  app.get('/api/offers', (_req, res) => {
    res.json({ offers: options.offers.list().map(displayed) });
  });

  app.post(
    '/api/offers/:jobId/choice',
    (req, res, next) => {
      const origin = req.get('origin');
      if (origin !== undefined && !origins.has(origin)) {
        fail(res, 403, 'cross_origin', 'choices are taken only from the self-service page itself');
      } else if (!req.is('application/json')) {
        fail(res, 415, 'unsupported_media_type', 'a choice must be sent as application/json');
      } else {
        next();
      }
    },
    express.json({ limit: '4kb' }),
    async (req: Request<{ jobId: string }>, res) => {
      const parsed = choiceSchema.safeParse(req.body);
      if (!parsed.success) {
        fail(res, 400, 'bad_request', 'the body must be {"choice": "install"} or {"choice": "decline"}');
        return;
      }
      const answer = await options.offers.choose(req.params.jobId, parsed.data.choice);
      res.status(answer.status).json(answer.body);
    },
  );

  app.use((_req: Request, res: Response) => {
    fail(res, 404, 'not_found', 'no such page');
  });
  app.use((error: Error & { status?: number }, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    // Body-parser errors (unreadable JSON, too large) carry their 4xx status; anything else is ours.
    const status = error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) options.log(`self-service page: internal error on ${req.method} ${req.path}: ${error.stack ?? error.message}`);
    fail(res, status, status === 500 ? 'internal' : 'bad_request', status === 500 ? 'internal error' : error.message);
  });

  const server = createServer(app);
  const port = await listen(server, options.port, LOOPBACK);
  for (const host of [LOOPBACK, 'localhost']) {
    hosts.add(`${host}:${port}`);
    origins.add(httpUrl(host, port));
  }
  return { url: httpUrl(LOOPBACK, port), close: () => close(server) };
}
