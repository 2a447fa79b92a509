/** The managing server's signatures: agent orders, package manifests and download tickets. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageManifest } from '../../common/manifest.js';
import { ORDER_MAX_AGE_MS, type DeleteOrder } from '../../common/orders.js';
import { openOrder, openTicket, OrderRefused, sealOrder, signTicket } from '../../trust/orders.js';
import { loadOrCreateServerKey, signBytes, signManifest, verifyManifest, type ServerKey } from '../../trust/signing.js';

let folder: string;
let key: ServerKey;
let otherKey: ServerKey;
const now = new Date('2030-01-01T12:00:00Z');

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'courier-signing-'));
  key = await loadOrCreateServerKey(join(folder, 'keys', 'server.pem'));
  otherKey = await loadOrCreateServerKey(join(folder, 'other.pem'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

function order(overrides: Partial<DeleteOrder> = {}): DeleteOrder {
  return {
    kind: 'delete',
    jobId: 'job-1',
    agentId: 'agent-1',
    issuedAt: now.toISOString(),
    validUntil: now.toISOString(),
    packageId: 'pkg-1',
    expiresAt: now.toISOString(),
    ...overrides,
  };
}

function refusalCode(body: Uint8Array, options = { publicKeyPem: key.publicKeyPem, agentId: 'agent-1', now }): string {
  try {
    openOrder(body, options);
  } catch (error) {
    if (error instanceof OrderRefused) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('the server key', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const path = join(folder, 'keys', 'server.pem');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateServerKey(path)).publicKeyPem).toBe(key.publicKeyPem);
  });
});

describe('orders', () => {
  it('opens a well-signed order for this agent', () => {
    expect(openOrder(sealOrder(key, order()), { publicKeyPem: key.publicKeyPem, agentId: 'agent-1', now })).toEqual(order());
  });

  it('refuses an unsigned order', () => {
    expect(refusalCode(pack(order()))).toBe('unsigned');
  });

  it('refuses an empty or truncated body as malformed', () => {
    expect(refusalCode(Buffer.alloc(0))).toBe('bad_order');
    expect(refusalCode(Buffer.from([0x92, 0x01]))).toBe('bad_order');
  });

  it('refuses an order whose payload was changed after signing', () => {
    const envelope = unpack(sealOrder(key, order())) as { payload: Uint8Array; signature: Uint8Array; keyId: string };
    const tampered = pack({ ...envelope, payload: pack(order({ packageId: 'pkg-2' })) });
    expect(refusalCode(tampered)).toBe('bad_signature');
  });

  it('refuses an order signed by another key, naming it, and one that claims the trusted key id falsely', () => {
    expect(refusalCode(sealOrder(otherKey, order()))).toBe('unknown_key');
    const forged = unpack(sealOrder(otherKey, order())) as { payload: Uint8Array; signature: Uint8Array; keyId: string };
    expect(refusalCode(pack({ ...forged, keyId: key.keyId }))).toBe('bad_signature');
  });

  it('refuses a signed payload that is not an order, or not msgpack it can read, as malformed', () => {
    const sealedPayload = (payload: Uint8Array) => pack({ payload, signature: signBytes(key, payload), keyId: key.keyId });
    expect(refusalCode(sealedPayload(pack(null)))).toBe('bad_order');
    expect(refusalCode(sealedPayload(pack(42)))).toBe('bad_order');
    // A map keyed by a map: valid msgpack that no JavaScript object can hold.
    expect(refusalCode(sealedPayload(Buffer.from([0x81, 0x81, 0x01, 0x02, 0x03])))).toBe('bad_order');
    // Fields that are objects with a toString of their own cannot break the refusal's message.
    expect(refusalCode(sealedPayload(pack({ ...order(), agentId: { toString: 0 } })))).toBe('bad_order');
    expect(refusalCode(sealedPayload(pack({ ...order(), issuedAt: { toString: 0 } })))).toBe('bad_order');
  });

  it('refuses an envelope without a key id as unsigned', () => {
    const { keyId: _dropped, ...withoutKeyId } = unpack(sealOrder(key, order())) as { keyId: string };
    expect(refusalCode(pack(withoutKeyId))).toBe('unsigned');
  });

  it('refuses an order addressed to another agent', () => {
    expect(refusalCode(sealOrder(key, order({ agentId: 'agent-2' })))).toBe('wrong_agent');
  });

  it('refuses stale orders and orders from the future, accepting those within the allowed age', () => {
    const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
    expect(refusalCode(sealOrder(key, order({ issuedAt: at(-ORDER_MAX_AGE_MS - 1000) })))).toBe('stale');
    expect(refusalCode(sealOrder(key, order({ issuedAt: at(ORDER_MAX_AGE_MS + 1000) })))).toBe('stale');
    expect(refusalCode(sealOrder(key, order({ issuedAt: 'yesterday' })))).toBe('stale');
    expect(refusalCode(sealOrder(key, order({ issuedAt: at(-ORDER_MAX_AGE_MS + 1000) })))).toBe('accepted');
  });
});

describe('manifests', () => {
  const manifest: PackageManifest = {
    packageId: 'pkg-1',
    name: 'editor',
    version: '1.2.3',
    sha256: 'a'.repeat(64),
    size: 10,
    format: 'tar.gz',
    fileName: 'editor.tar.gz',
    installCommand: 'sh install.sh',
    timeoutSeconds: 600,
    conditions: { minFreeDiskMb: 5 },
  };

  it('verifies a signed manifest, whatever the key order of the object', () => {
    const signed = signManifest(key, manifest);
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as unknown as PackageManifest;
    expect(verifyManifest(key.publicKeyPem, signed)).toBe(true);
    expect(verifyManifest(key.publicKeyPem, { ...signed, manifest: reordered })).toBe(true);
  });

  it('refuses a changed manifest, another key and a garbled signature', () => {
    const signed = signManifest(key, manifest);
    expect(verifyManifest(key.publicKeyPem, { ...signed, manifest: { ...manifest, installCommand: 'rm -rf /' } })).toBe(false);
    expect(verifyManifest(key.publicKeyPem, { ...signed, manifest: { ...manifest, sha256: 'b'.repeat(64) } })).toBe(false);
    expect(verifyManifest(otherKey.publicKeyPem, signed)).toBe(false);
    expect(verifyManifest(key.publicKeyPem, { ...signed, signature: 'not base64 at all!' })).toBe(false);
  });
});

describe('download tickets', () => {
  const ticket = { packageId: 'pkg-1', computerId: 'computer-1', expiresAt: '2030-01-01T13:00:00Z' };

  it('opens a valid ticket', () => {
    expect(openTicket(key.publicKeyPem, signTicket(key, ticket), now)).toEqual(ticket);
  });

  it('refuses an expired ticket', () => {
    expect(openTicket(key.publicKeyPem, signTicket(key, ticket), new Date('2030-01-01T13:00:01Z'))).toBeNull();
  });

  it('refuses a tampered ticket, one signed by another key, and garbage', () => {
    const envelope = unpack(Buffer.from(signTicket(key, ticket), 'base64url')) as { signature: Uint8Array };
    const widened = pack({ payload: pack({ ...ticket, packageId: 'pkg-2' }), signature: envelope.signature });
    expect(openTicket(key.publicKeyPem, Buffer.from(widened).toString('base64url'), now)).toBeNull();
    expect(openTicket(key.publicKeyPem, signTicket(otherKey, ticket), now)).toBeNull();
    expect(openTicket(key.publicKeyPem, 'garbage', now)).toBeNull();
  });
});
