/**
 * Bearer-token guards. Three kinds of secret reach the api: the admin token (COURIER_ADMIN_TOKEN), the
 * enrolment secret (COURIER_ENROLL_SECRET, only for POST /enroll) and agent tokens, which are stored as
 * SHA-256 hashes in agent_tokens. A missing or unknown token is 401; a valid token on a route that is not
 * for its holder is 403.
 */
import { eq } from 'drizzle-orm';
import type { Request, RequestHandler } from 'express';
import { agentTokens } from '../db/schema/index.js';
import { hashToken, secretsEqual } from '../trust/tokens.js';
import type { AppDependencies } from './dependencies.js';
import { Forbidden, Unauthorized } from './errors.js';

/** Route guards, built once per app. */
export interface Guards {
  /** The admin token only. */
  admin: RequestHandler;
  /** The admin token or any enrolled relay's or computer's token. */
  adminOrAgent: RequestHandler;
  /** The enrolment secret. */
  enrollSecret: RequestHandler;
}

function bearerToken(req: Request): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  if (!match?.[1]) throw new Unauthorized('missing_token', 'send Authorization: Bearer <token>');
  return match[1];
}

function isAdmin(token: string, adminToken: string | undefined): boolean {
  return adminToken !== undefined && secretsEqual(token, adminToken);
}

/** Builds the guards over the database (agent tokens) and the configured secrets. */
export function createGuards({ db, config }: Pick<AppDependencies, 'db' | 'config'>): Guards {
  async function isAgent(token: string): Promise<boolean> {
    const [row] = await db
      .select({ agentId: agentTokens.agentId })
      .from(agentTokens)
      .where(eq(agentTokens.tokenHash, hashToken(token)));
    return row !== undefined;
  }

  return {
    async admin(req, _res, next) {
      const token = bearerToken(req);
      if (isAdmin(token, config.adminToken)) return next();
      if (await isAgent(token)) throw new Forbidden('admin_only', 'this route needs the admin token');
      throw new Unauthorized('invalid_token', 'unknown token');
    },
    async adminOrAgent(req, _res, next) {
      const token = bearerToken(req);
      if (isAdmin(token, config.adminToken) || (await isAgent(token))) return next();
      throw new Unauthorized('invalid_token', 'unknown token');
    },
    enrollSecret(req, _res, next) {
      const token = bearerToken(req);
      if (config.enrollSecret !== undefined && secretsEqual(token, config.enrollSecret)) return next();
      throw new Unauthorized('invalid_enroll_secret', 'enrolment needs the enrolment secret as bearer token');
    },
  };
}
