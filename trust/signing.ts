/**
 * The managing server's Ed25519 key: it signs package manifests, agent orders and download tickets, and
 * agents verify them against the public key they received at enrolment.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { manifestBytes, type PackageManifest, type SignedManifest } from '../common/manifest.js';

/** The server's signing key pair, as loaded from COURIER_SIGNING_KEY_FILE. */
export interface ServerKey {
  privateKey: KeyObject;
  /** SPKI PEM, as handed to agents. */
  publicKeyPem: string;
}

function fromPrivatePem(pem: string): ServerKey {
  const privateKey = createPrivateKey(pem);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem };
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

/**
 * Parsed public keys by PEM. Parsing costs as much as the verification itself, and an agent verifies every
 * order, ticket and manifest against the same key (a relay thousands a minute); only a key rotation adds one.
 */
const publicKeys = new Map<string, KeyObject>();
const MAX_PARSED_KEYS = 16;

function publicKeyOf(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    if (publicKeys.size >= MAX_PARSED_KEYS) publicKeys.clear();
    publicKeys.set(pem, key);
  }
  return key;
}

/** Whether `signature` is the server's over `bytes`; a malformed key or signature is simply false. */
export function verifyBytes(publicKeyPem: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, bytes, publicKeyOf(publicKeyPem), signature);
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
