/**
 * One log line per request (pino-http) on the api and on agents. Only the method, the path and the status
 * are kept of the exchange itself: headers and bodies carry tokens, secrets and tickets. Each program adds
 * what an operator filters on (the api: the job, its workflow and the caller; an agent: the package).
 * Failures log at warn (4xx) or error (5xx); successes at info, or at debug where a program calls them
 * routine (the api: what agents send it, several requests a second for every thousand computers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Level } from 'pino';
import type { Logger } from './logger.js';

/** The fields a program adds to a request's line, from its URL and its response (guards record the caller there). */
export type RequestContext = (url: string, res: ServerResponse) => Record<string, string>;

/** Whether a request that succeeded is routine traffic, logged at debug rather than info. */
export type RoutineRequest = (res: ServerResponse) => boolean;

export function requestLog(logger: Logger, context: RequestContext = () => ({}), routine: RoutineRequest = () => false): RequestHandler {
  function levelOf(res: ServerResponse, error: Error | undefined): Level {
    if (error || res.statusCode >= 500) return 'error';
    if (res.statusCode >= 400) return 'warn';
    return routine(res) ? 'debug' : 'info';
  }
  return pinoHttp({
    logger,
    serializers: {
      req: (req: IncomingMessage) => ({ method: req.method, url: req.url }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customProps: (req, res) => context(req.url ?? '', res),
    // 'silent' below the logger's level, so that pino-http does not build a line nobody will read.
    customLogLevel: (_req, res, error) => {
      const level = levelOf(res, error);
      return logger.isLevelEnabled(level) ? level : 'silent';
    },
    customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
  }) as RequestHandler;
}
