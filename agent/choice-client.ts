/**
 * Sends a user's offer choice to the managing server (`POST /api/v1/jobs/:jobId/choices`) with the agent's
 * own token: the server takes choices only from the computer the offer was made to. A server that is away
 * or busy is asked again with backoff for as long as a person waits on the page; then the page says so,
 * and the offer stays open for the next click.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { causeMessage } from '../common/errors.js';
import type { OfferChoice } from '../common/workflows.js';
import { backoffDelayMs, RETRYABLE_CLIENT_ERRORS, type Backoff } from './backoff.js';
import type { FetchLike } from './deps.js';
import type { ChoiceAnswer } from './offers.js';

/** One choice to send. */
export interface ChoiceRequest {
  serverUrl: string;
  token: string;
  jobId: string;
  choice: OfferChoice;
  fetch: FetchLike;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
}

/** A person is waiting on the page: past this, say the server is not answering rather than spin on. */
const CHOICE_TIMEOUT_MS = 15_000;

/** Retries soon and often: a person is waiting, and one choice is one request. */
const CHOICE_BACKOFF: Backoff = { firstMs: 250, maxMs: 2_000 };

/** Whether an answer means "not now": the server unreachable, failing (5xx) or busy (408, 429). */
function worthRetrying(answer: ChoiceAnswer): boolean {
  return answer.status >= 500 || RETRYABLE_CLIENT_ERRORS.has(answer.status);
}

/**
 * The server's answer, status and JSON body as they came, so the page sees the server's own error code.
 * Retried while the server is away or busy, until CHOICE_TIMEOUT_MS after the click; the last answer is
 * returned then. A server that cannot be reached, or answers with something other than JSON, becomes a
 * 502 of ours.
 */
export async function sendChoice(request: ChoiceRequest): Promise<ChoiceAnswer> {
  const deadline = AbortSignal.timeout(CHOICE_TIMEOUT_MS);
  for (let failures = 1; ; failures += 1) {
    const answer = await attempt(request, deadline);
    if (!worthRetrying(answer) || deadline.aborted || request.signal.aborted) return answer;
    try {
      await sleep(backoffDelayMs(CHOICE_BACKOFF, failures), undefined, { signal: AbortSignal.any([request.signal, deadline]) });
    } catch {
      return answer;
    }
  }
}

/** One request, within what is left of the deadline. */
async function attempt(request: ChoiceRequest, deadline: AbortSignal): Promise<ChoiceAnswer> {
  const endpoint = `${request.serverUrl.replace(/\/+$/, '')}/api/v1/jobs/${encodeURIComponent(request.jobId)}/choices`;
  let response: Response;
  let text: string;
  try {
    response = await request.fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ choice: request.choice }),
      signal: AbortSignal.any([request.signal, deadline]),
    });
    text = await response.text();
  } catch (error) {
    return badGateway('server_unreachable', `the managing server could not be reached: ${causeMessage(error)}`);
  }
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return badGateway('bad_gateway', `the managing server answered HTTP ${response.status} without a JSON body`);
  }
}

function badGateway(code: string, message: string): ChoiceAnswer {
  return { status: 502, body: { error: { code, message } } };
}
