/**
 * Bearer-token guards. Four kinds of secret reach the api: the admin token (COURIER_ADMIN_TOKEN), the
 * enrolment secret (COURIER_ENROLL_SECRET until an admin rotates it; only for POST /enroll), the metrics
 * token (COURIER_METRICS_TOKEN; only for GET /metrics, which needs no token while the api listens on
 * loopback only) and agent tokens, which are stored as
 * SHA-256 hashes in agent_tokens. A missing or unknown token is 401; a valid token on a route that is not
 * for its holder is 403. Guards record who called in `res.locals`, read back with `callerOf`.
 */
import { eq, sql } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import { agentTokens } from '../db/schema/index.js';
import { hashToken, secretsEqual } from '../trust/tokens.js';
import type { AppDependencies } from './dependencies.js';
import { isEnrollSecret } from './services/enrolment.js';
import { Forbidden, Unauthorized } from './errors.js';

/** Who made a request, as a guard established it. */
/** An enrolled relay or computer, as its token proved it. */
export type AgentCaller = { role: 'relay' | 'computer'; agentId: string };

export type Caller = { role: 'admin' } | AgentCaller;

/** Route guards, built once per app. */
export interface Guards {
  /** The admin token only. */
  admin: RequestHandler;
  /** The admin token or any enrolled relay's or computer's token. */
  adminOrAgent: RequestHandler;
  /**
   * Anyone while the api listens on loopback only (DESIGN §7: a scraper on the same machine); otherwise the
   * metrics token (COURIER_METRICS_TOKEN), which opens nothing else, or the admin token.
   */
  metrics: RequestHandler;
  /** An enrolled computer's token only (its user's choices are its own). */
  computer: RequestHandler;
  /** An enrolled relay's or computer's token only (what it says of itself). */
  agent: RequestHandler;
  /** The enrolment secret. */
  enrollSecret: RequestHandler;
}

/** Whether listening on `host` reaches this machine only. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function bearerToken(req: Request): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  if (!match?.[1]) throw new Unauthorized('missing_token', 'send Authorization: Bearer <token>');
  return match[1];
}

/** The caller a guard let through; a route without a guard that identifies callers is a programming error. */
export function callerOf(res: Response): Caller {
  const caller = (res.locals as { caller?: Caller }).caller;
  if (!caller) throw new Error('no guard identified the caller of this route');
  return caller;
}

/** The calling computer's id, on routes behind the `computer` guard. */
export function computerIdOf(res: Response): string {
  const caller = callerOf(res);
  if (caller.role !== 'computer') throw new Error('computerIdOf needs the computer guard');
  return caller.agentId;
}

/** Builds the guards over the database (agent tokens) and the configured secrets. */
export function createGuards({ db, config }: Pick<AppDependencies, 'db' | 'config'>): Guards {
  // Every agent request looks its token up: built once, so a request does not pay for building the query.
  const tokenHolder = db
    .select({ agentId: agentTokens.agentId, role: agentTokens.role })
    .from(agentTokens)
    .where(eq(agentTokens.tokenHash, sql.placeholder('tokenHash')))
    .prepare('agent_token_holder');

  /** The token's holder, or 401; the admin token is compared first so admin requests never query agents. */
  async function identify(req: Request, res: Response): Promise<Caller> {
    const token = bearerToken(req);
    let caller: Caller | undefined;
    if (config.adminToken !== undefined && secretsEqual(token, config.adminToken)) {
      caller = { role: 'admin' };
    } else {
      const [row] = await tokenHolder.execute({ tokenHash: hashToken(token) });
      caller = row;
    }
    if (!caller) throw new Unauthorized('invalid_token', 'unknown token');
    res.locals.caller = caller;
    return caller;
  }

  return {
    async admin(req, res, next) {
      const caller = await identify(req, res);
      if (caller.role !== 'admin') throw new Forbidden('admin_only', 'this route needs the admin token');
      next();
    },
    async adminOrAgent(req, res, next) {
      await identify(req, res);
      next();
    },
    async metrics(req, res, next) {
      if (isLoopbackHost(config.apiHost)) {
        next();
        return;
      }
      if (config.metricsToken !== undefined && secretsEqual(bearerToken(req), config.metricsToken)) {
        next();
        return;
      }
      const caller = await identify(req, res);
      if (caller.role !== 'admin') throw new Forbidden('admin_only', 'this route needs the metrics token or the admin token');
      next();
    },
    async computer(req, res, next) {
      const caller = await identify(req, res);
      if (caller.role !== 'computer') {
        throw new Forbidden('computer_only', "this route takes an enrolled computer's own token");
      }
      next();
    },
    async agent(req, res, next) {
      const caller = await identify(req, res);
      if (caller.role === 'admin') throw new Forbidden('agent_only', "this route takes an enrolled agent's own token");
      next();
    },
    async enrollSecret(req, _res, next) {
      if (!(await isEnrollSecret({ db, config }, bearerToken(req)))) {
        throw new Unauthorized('invalid_enroll_secret', 'enrolment needs the enrolment secret as bearer token');
      }
      next();
    },
  };
}
