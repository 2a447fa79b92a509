/**
 * The managing server's Ed25519 key: it signs package manifests, agent orders and download tickets, and
 * agents verify them against the public key they pinned at their first enrolment. A key is named by its
 * fingerprint, which envelopes carry as their key id and operators compare (`--server-key-fingerprint`).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { manifestBytes, type PackageManifest, type SignedManifest } from '../common/manifest.js';

/** The server's signing key pair, as loaded from COURIER_SIGNING_KEY_FILE. */
export interface ServerKey {
  privateKey: KeyObject;
  /** SPKI PEM, as handed to agents. */
  publicKeyPem: string;
  /** The public key's fingerprint (`keyFingerprint`), carried by every envelope the key seals. */
  keyId: string;
}

function fromPrivatePem(pem: string): ServerKey {
  const privateKey = createPrivateKey(pem);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, keyId: keyFingerprint(publicKeyPem) };
}

/**
 * Reads the key at `path`, creating it on first use. The api and the worker may both start at once, so the
 * file is created exclusively and the loser of that race reads the winner's key.
 */
export async function loadOrCreateServerKey(path: string): Promise<ServerKey> {
  try {
    return fromPrivatePem(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return fromPrivatePem(await readFile(path, 'utf8'));
  }
  return fromPrivatePem(pem);
}

/** Ed25519 signature over `bytes`. */
export function signBytes(key: ServerKey, bytes: Uint8Array): Uint8Array {
  return sign(null, bytes, key.privateKey);
}

/** A parsed public key and its fingerprint. */
interface ParsedKey {
  key: KeyObject;
  fingerprint: string;
}

/**
 * Parsed public keys by PEM. Parsing costs as much as the verification itself, and an agent verifies every
 * order, ticket and manifest against the same key (a relay thousands a minute); only a key rotation adds one.
 */
const publicKeys = new Map<string, ParsedKey>();
const MAX_PARSED_KEYS = 16;

function parsedKey(pem: string): ParsedKey {
  let parsed = publicKeys.get(pem);
  if (!parsed) {
    const key = createPublicKey(pem);
    const der = key.export({ type: 'spki', format: 'der' });
    parsed = { key, fingerprint: `sha256:${createHash('sha256').update(der).digest('hex')}` };
    if (publicKeys.size >= MAX_PARSED_KEYS) publicKeys.clear();
    publicKeys.set(pem, parsed);
  }
  return parsed;
}

/**
 * The fingerprint of a public key (SPKI PEM): `sha256:` and the hex SHA-256 of its DER encoding, the same
 * whatever the PEM's line breaks. Throws on a PEM that holds no public key.
 */
export function keyFingerprint(publicKeyPem: string): string {
  return parsedKey(publicKeyPem).fingerprint;
}

/** Whether `signature` is the server's over `bytes`; a malformed key or signature is simply false. */
export function verifyBytes(publicKeyPem: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, bytes, parsedKey(publicKeyPem).key, signature);
  } catch {
    return false;
  }
}

/** Signs the manifest's canonical bytes (base64 signature). */
export function signManifest(key: ServerKey, manifest: PackageManifest): SignedManifest {
  return { manifest, signature: Buffer.from(signBytes(key, manifestBytes(manifest))).toString('base64') };
}

/** Whether the manifest is exactly what the server signed. */
export function verifyManifest(publicKeyPem: string, signed: SignedManifest): boolean {
  return verifyBytes(publicKeyPem, manifestBytes(signed.manifest), Buffer.from(signed.signature, 'base64'));
}
