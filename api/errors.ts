/**
 * The api's typed errors and the one middleware that turns them into HTTP answers. Services throw these
 * classes and know nothing of status codes; only `errorMiddleware` maps a class to a status, so the whole
 * contract (`{"error": {code, message, details?}}`) lives on this page.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';

/**
 * Every error answer's body: `code` is stable for scripts, `message` says why in words, `details` carries
 * what the code documents (the invalid fields of a 400, the jobs that hold a package, ...).
 */
export const errorAnswerSchema = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** Base of every error a service may throw on purpose; `code` is the machine-readable reason. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request is malformed or names something that cannot be used. */
export class InvalidInput extends ServiceError {}
/** The caller did not prove who it is. */
export class Unauthorized extends ServiceError {}
/** The caller is known but may not do this. */
export class Forbidden extends ServiceError {}
/** The named package, job, computer or route does not exist. */
export class NotFound extends ServiceError {}
/** The request contradicts the current state (a duplicate, a finished job). */
export class Conflict extends ServiceError {}
/** The request is well formed but cannot succeed as things stand (a package that expires before the job ends). */
export class Unprocessable extends ServiceError {}
/** A part of the request is larger than the api accepts. */
export class TooLarge extends ServiceError {}
/** A download's Range lies outside the content. */
export class RangeNotSatisfiable extends ServiceError {}
/** A download's conditions (If-Match, If-Unmodified-Since) do not hold. */
export class PreconditionFailed extends ServiceError {}
/** A dependency (PostgreSQL, Temporal) did not answer; the request may succeed later. */
export class Unavailable extends ServiceError {}

const statuses: [new (...args: never[]) => ServiceError, number][] = [
  [InvalidInput, 400],
  [Unauthorized, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [Conflict, 409],
  [PreconditionFailed, 412],
  [TooLarge, 413],
  [RangeNotSatisfiable, 416],
  [Unprocessable, 422],
  [Unavailable, 503],
];

/** postgres.js codes (and PostgreSQL's "shutting down / starting up") that mean the database is unreachable. */
const databaseDownCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P03',
]);

/** The first `code` along an error's cause chain; drizzle wraps the driver's error in `cause`. */
function causeCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** Errors raised by express's own body parsers carry `type` and `status`. */
function fromBodyParser(error: unknown): ServiceError | undefined {
  const { type, limit } = (error ?? {}) as { type?: unknown; limit?: unknown };
  if (type === 'entity.parse.failed') return new InvalidInput('invalid_json', 'request body is not valid JSON');
  if (type === 'entity.too.large') {
    return new TooLarge('body_too_large', `request body is larger than the ${String(limit)} bytes this route accepts`);
  }
  if (typeof type === 'string') return new InvalidInput('invalid_body', 'request body could not be read');
  return undefined;
}

/**
 * Errors raised by `res.sendFile` (the `send` package) for downloads it refuses carry the HTTP `status`;
 * the Content-Range header it set (naming the content's size, on a 416) stays on the response.
 */
function fromFileSender(error: unknown): ServiceError | undefined {
  const { status } = (error ?? {}) as { status?: unknown };
  if (status === 416) return new RangeNotSatisfiable('range_not_satisfiable', 'the requested range lies outside the content');
  if (status === 412) return new PreconditionFailed('precondition_failed', "the request's conditions do not hold for this content");
  return undefined;
}

function toServiceError(error: unknown): ServiceError | undefined {
  if (error instanceof ServiceError) return error;
  const parsed = fromBodyParser(error) ?? fromFileSender(error);
  if (parsed) return parsed;
  const code = causeCode(error);
  if (code !== undefined && databaseDownCodes.has(code)) {
    return new Unavailable('database_unavailable', 'the database is not reachable; try again shortly');
  }
  return undefined;
}

/** Answers every unmatched route with 404 in the same shape as every other error. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFound('no_such_route', `no route ${req.method} ${req.path}`));
};

/** The single place where errors become responses; anything unexpected is logged and answered 500. */
export const errorMiddleware: ErrorRequestHandler = (error: unknown, req, res, next) => {
  if (res.headersSent) {
    next(error);
    return;
  }
  const known = toServiceError(error);
  if (!known) {
    // The error alone: the request's own line (api/request-log.ts) says which it was, without its headers.
    req.log.error({ err: error }, `${req.method} ${req.path} failed`);
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
    return;
  }
  const status = statuses.find(([type]) => known instanceof type)?.[1] ?? 500;
  const body: z.infer<typeof errorAnswerSchema>['error'] = { code: known.code, message: known.message };
  if (known.details !== undefined) body.details = known.details;
  // Explicitly JSON: a download that fails after choosing its content type must not keep it.
  res.status(status).type('json').json({ error: body });
};
