/**
 * How services call Temporal: every call has a deadline, so a Temporal that hangs makes the api answer
 * 503 (which agents and admins retry) instead of holding the request open. A failed call is either a
 * definite refusal (Temporal answered and did nothing) or ambiguous (it may have carried the call out).
 */
import { isGrpcServiceError, NamespaceNotFoundError, type Client } from '@temporalio/client';
import { errorMessage } from '../../common/errors.js';
import { Unavailable } from '../errors.js';

/** How long the api waits for Temporal before answering 503. */
const TEMPORAL_CALL_MS = 10_000;

/** Runs one Temporal call under the api's deadline. */
export function callTemporal<T>(temporal: Client, call: () => Promise<T>): Promise<T> {
  return temporal.withDeadline(Date.now() + TEMPORAL_CALL_MS, call);
}

/**
 * gRPC status codes with which Temporal turns a request down before acting on it (by number: the codes
 * are gRPC's, and @grpc/grpc-js is not a dependency of ours). Deadline exceeded, unavailable, cancelled,
 * unknown, internal and aborted are not among them: the server may have acted before the answer was lost.
 * Resource exhausted is left out on purpose too: a rate-limited start is worth keeping for a later try.
 */
const refusalCodes: ReadonlySet<number> = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND
  7, // PERMISSION_DENIED
  9, // FAILED_PRECONDITION
  12, // UNIMPLEMENTED
  16, // UNAUTHENTICATED
]);

/**
 * Whether Temporal certainly did not carry out the call that threw `error`. Only then may the api undo
 * what it wrote for the call; after anything else it must assume the call may have taken effect.
 */
export function isDefiniteRefusal(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof NamespaceNotFoundError) return true;
    if (isGrpcServiceError(current)) return refusalCodes.has(current.code);
    current = current.cause;
  }
  return false;
}

/** The 503 for a Temporal call that failed; `action` completes "could not …". */
export function temporalUnavailable(action: string, error: unknown): Unavailable {
  return new Unavailable('temporal_unavailable', `could not ${action}: Temporal did not answer (${errorMessage(error)})`);
}

