/**
 * The audit trail (DESIGN §7 "Identity"): every admin action and every enrolment, with who, when, what and
 * the outcome. A route opts in with `audited(action)` after its guard, so only callers that proved their
 * credential are recorded (anyone could fill the log with refused tokens). Its handler records success with
 * `auditTrail.succeeded` before answering; `auditTrail.failures` records a refusal the same way, before the
 * error middleware answers it. Written first, answered second: an admin who saw an answer finds the entry.
 */
import { desc, lt } from 'drizzle-orm';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Database } from '../db/client.js';
import { auditLog } from '../db/schema/index.js';
import type { Caller } from './auth.js';
import { pageOf, type Page } from './cursor.js';
import { ServiceError } from './errors.js';
import { timestamp } from './view-schemas.js';
import type { AuditQuery } from './list-queries.js';

/** What the trail records. */
export const auditActions = [
  'package.upload',
  'package.update',
  'package.retire',
  'job.create',
  'job.cancel',
  'job.rerun',
  'job.resume',
  'computer.update',
  'computer.reset',
  'relay.update',
  'relay.reset',
  'window.define',
  'window.delete',
  'enroll-secret.rotate',
  'agent.enrol',
] as const;

export type AuditAction = (typeof auditActions)[number];

/** One entry as GET /audit lists it. */
export const auditEntrySchema = z.strictObject({
  at: timestamp,
  actor: z.string(),
  action: z.enum(auditActions),
  subject: z.string().nullable(),
  outcome: z.string(),
  address: z.string().nullable(),
});

export type AuditEntry = z.infer<typeof auditEntrySchema>;

interface AuditContext {
  action: AuditAction;
  subject: string | null;
  /** Who acted, when the route knows better than the guard (an enrolling agent). */
  actor?: string;
}

/** Marks a route as audited; `subjectOf` names what a request acts on, as far as the request tells. */
export function audited(action: AuditAction, subjectOf: (req: Request) => string | null = () => null): RequestHandler {
  return (req, res, next) => {
    res.locals.audit = { action, subject: subjectOf(req) } satisfies AuditContext;
    next();
  };
}

/** The subject of a route acting on `/…/:id`. */
export function subjectFromId(kind: string): (req: Request) => string {
  return (req) => `${kind}:${String(req.params.id)}`;
}

function contextOf(res: Response): AuditContext | undefined {
  return (res.locals as { audit?: AuditContext }).audit;
}

/** Lets an audited route name what it acted on or who acted, once it knows. */
export function describeAudit(res: Response, facts: { subject?: string; actor?: string }): void {
  const context = contextOf(res);
  if (!context) throw new Error('describeAudit needs a route marked audited');
  Object.assign(context, facts);
}

function actorOf(res: Response, context: AuditContext): string {
  if (context.actor) return context.actor;
  const caller = (res.locals as { caller?: Caller }).caller;
  if (!caller) return 'enroll-secret';
  return caller.role === 'admin' ? 'admin' : `${caller.role}:${caller.agentId}`;
}

/** Records audited requests and lists the trail. */
export class AuditTrail {
  constructor(private readonly db: Database) {}

  /** Records that the audited request `res` answers succeeded, with `outcome` when `ok` says too little. */
  async succeeded(req: Request, res: Response, outcome = 'ok'): Promise<void> {
    const context = contextOf(res);
    if (!context) throw new Error('succeeded needs a route marked audited');
    await this.write(req, res, context, outcome);
  }

  /** Error handler, before the error middleware: records the refusal of an audited request, then passes it on. */
  readonly failures: ErrorRequestHandler = async (error: unknown, req, res, next) => {
    const context = contextOf(res);
    if (context) {
      const outcome = error instanceof ServiceError ? error.code : 'internal';
      try {
        await this.write(req, res, context, outcome);
      } catch (writeError) {
        // The caller still hears why its request failed; the trail's own failure is the operator's to see.
        req.log.error({ err: writeError, action: context.action, outcome }, 'cannot record an action in the audit log');
      }
    }
    next(error);
  };

  /** A page of the trail, newest first. */
  async list(query: AuditQuery): Promise<Page<AuditEntry>> {
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(query.cursor ? lt(auditLog.id, query.cursor.id) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(query.limit + 1);
    const page = pageOf(rows, query.limit, (row) => ({ id: row.id }));
    return {
      items: page.rows.map(({ at, actor, action, subject, outcome, address }) => ({
        at: at.toISOString(),
        actor,
        action: action as AuditAction,
        subject,
        outcome,
        address,
      })),
      nextCursor: page.nextCursor,
    };
  }

  private async write(req: Request, res: Response, context: AuditContext, outcome: string): Promise<void> {
    await this.db.insert(auditLog).values({
      actor: actorOf(res, context),
      action: context.action,
      subject: context.subject,
      outcome,
      address: req.ip ?? null,
    });
  }
}
