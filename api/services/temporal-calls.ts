/**
 * How services call Temporal: every call has a deadline, so a Temporal that hangs makes the api answer
 * 503 (which agents and admins retry) instead of holding the request open.
 */
import type { Client } from '@temporalio/client';
import { errorMessage } from '../../common/errors.js';
import { Unavailable } from '../errors.js';

/** How long the api waits for Temporal before answering 503. */
const TEMPORAL_CALL_MS = 10_000;

/** Runs one Temporal call under the api's deadline. */
export function callTemporal<T>(temporal: Client, call: () => Promise<T>): Promise<T> {
  return temporal.withDeadline(Date.now() + TEMPORAL_CALL_MS, call);
}

/** The 503 for a Temporal call that failed; `action` completes "could not …". */
export function temporalUnavailable(action: string, error: unknown): Unavailable {
  return new Unavailable('temporal_unavailable', `could not ${action}: Temporal did not answer (${errorMessage(error)})`);
}
