/**
 * One log line per request (pino-http) on the api and on agents. Only the method, the path and the status
 * are kept of the exchange itself: headers and bodies carry tokens, secrets and tickets. Each program adds
 * what an operator filters on (the api: the job, its workflow and the caller; an agent: the package).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from './logger.js';

/** The fields a program adds to a request's line, from its URL and its response (guards record the caller there). */
export type RequestContext = (url: string, res: ServerResponse) => Record<string, string>;

export function requestLog(logger: Logger, context: RequestContext = () => ({})): RequestHandler {
  return pinoHttp({
    logger,
    serializers: {
      req: (req: IncomingMessage) => ({ method: req.method, url: req.url }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customProps: (req, res) => context(req.url ?? '', res),
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
  }) as RequestHandler;
}
