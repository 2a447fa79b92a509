/**
 * Sealing and opening agent orders. An order travels as a msgpack envelope holding the msgpack-encoded
 * order, the managing server's signature over exactly those bytes (so nothing is re-encoded before it is
 * verified) and the id of the key that signed it, so an agent tells a key it does not trust (a rotation it
 * was not told of) from a forgery.
 */
import { pack, unpack } from 'msgpackr';
import { ORDER_MAX_AGE_MS, type DownloadTicket, type Order, type OrderRefusal } from '../common/orders.js';
import { keyFingerprint, signBytes, verifyBytes, type ServerKey } from './signing.js';

interface Envelope {
  payload: Uint8Array;
  signature: Uint8Array;
  /** The signing key's fingerprint (trust/signing.ts). */
  keyId: string;
}

/** msgpack-encodes `value` and wraps it with the server's signature over exactly those bytes. */
function seal(key: ServerKey, value: unknown): Buffer {
  const payload = pack(value);
  return pack({ payload, signature: signBytes(key, payload), keyId: key.keyId } satisfies Envelope);
}

/** The body of an order request: the order sealed in a signed envelope. */
export function sealOrder(key: ServerKey, order: Order): Buffer {
  return seal(key, order);
}

/** Why an order was refused; the agent answers it with HTTP 403 (400 for malformed ones). */
export class OrderRefused extends Error {
  constructor(
    readonly code: OrderRefusal['error']['code'],
    message: string,
  ) {
    super(message);
    this.name = 'OrderRefused';
  }
}

/** What an agent checks an order against: the server's key, its own id and its clock. */
export interface OpenOrderOptions {
  publicKeyPem: string;
  agentId: string;
  now: Date;
}

function isEnvelope(value: unknown): value is Envelope {
  const candidate = value as Partial<Envelope> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.payload instanceof Uint8Array &&
    candidate.signature instanceof Uint8Array &&
    typeof candidate.keyId === 'string'
  );
}

/** Verifies signature, audience and age, and returns the order; throws OrderRefused otherwise. */
export function openOrder(body: Uint8Array, options: OpenOrderOptions): Order {
  let envelope: unknown;
  try {
    envelope = unpack(body);
  } catch {
    throw new OrderRefused('bad_order', 'body is not msgpack');
  }
  if (!isEnvelope(envelope)) throw new OrderRefused('unsigned', 'order carries no signature or no key id');
  const pinned = keyFingerprint(options.publicKeyPem);
  if (envelope.keyId !== pinned) {
    throw new OrderRefused('unknown_key', `order is signed with key ${envelope.keyId.slice(0, 80)}; this agent trusts only ${pinned}`);
  }
  if (!verifyBytes(options.publicKeyPem, envelope.payload, envelope.signature)) {
    throw new OrderRefused('bad_signature', "order signature does not match the managing server's key");
  }
  // Signed is not well formed: a server of another version (or a bug) may have packed what this one cannot read.
  let order: Order;
  try {
    order = unpack(envelope.payload) as Order;
  } catch {
    throw new OrderRefused('bad_order', 'the signed payload is not msgpack this agent can read');
  }
  if (typeof order !== 'object' || order === null) throw new OrderRefused('bad_order', 'the signed payload is not an order');
  // Checked before they are compared or quoted: an object could carry a toString of its own.
  if (typeof order.agentId !== 'string' || typeof order.issuedAt !== 'string') {
    throw new OrderRefused('bad_order', 'the order names no agent or no time of issue');
  }
  if (order.agentId !== options.agentId) {
    throw new OrderRefused('wrong_agent', `order is addressed to agent ${order.agentId}, not to this agent`);
  }
  const issuedAt = Date.parse(order.issuedAt);
  if (!Number.isFinite(issuedAt) || Math.abs(options.now.getTime() - issuedAt) > ORDER_MAX_AGE_MS) {
    throw new OrderRefused('stale', `order issued at ${order.issuedAt} is too old or from the future`);
  }
  return order;
}

/** A download ticket sealed like an order, as a base64url string for the X-Courier-Ticket header. */
export function signTicket(key: ServerKey, ticket: DownloadTicket): string {
  return seal(key, ticket).toString('base64url');
}

/** Returns the ticket when it is signed by the server and unexpired, otherwise null. */
export function openTicket(publicKeyPem: string, encoded: string, now: Date): DownloadTicket | null {
  try {
    const envelope: unknown = unpack(Buffer.from(encoded, 'base64url'));
    if (!isEnvelope(envelope) || envelope.keyId !== keyFingerprint(publicKeyPem)) return null;
    if (!verifyBytes(publicKeyPem, envelope.payload, envelope.signature)) return null;
    const ticket = unpack(envelope.payload) as DownloadTicket;
    return Date.parse(ticket.expiresAt) > now.getTime() ? ticket : null;
  } catch {
    return null;
  }
}
