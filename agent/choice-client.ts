/**
 * Sends a user's offer choice to the managing server (`POST /api/v1/jobs/:jobId/choices`) with the agent's
 * own token: the server takes choices only from the computer the offer was made to.
 */
import { causeMessage } from '../common/errors.js';
import type { OfferChoice } from '../common/workflows.js';
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

/**
 * The server's answer, status and JSON body as they came, so the page sees the server's own error code.
 * A server that cannot be reached, or answers with something other than JSON, becomes a 502 of ours.
 */
export async function sendChoice(request: ChoiceRequest): Promise<ChoiceAnswer> {
  const endpoint = `${request.serverUrl.replace(/\/+$/, '')}/api/v1/jobs/${encodeURIComponent(request.jobId)}/choices`;
  let response: Response;
  let text: string;
  try {
    response = await request.fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ choice: request.choice }),
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(CHOICE_TIMEOUT_MS)]),
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
