/** The most telling message of a failure: the activity's or child's own error rather than Temporal's wrapper. */
export function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  return cause instanceof Error ? cause.message : error.message;
}
