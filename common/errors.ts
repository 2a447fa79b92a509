/** Wording of caught values, which need not be Errors. */

/** The message of an Error, or the value itself as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The most telling message of a failure: its cause's when it has one (undici's "fetch failed" hides
 * ECONNREFUSED there, and Temporal wraps an activity's or child's own error the same way), else its own.
 */
export function causeMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}
