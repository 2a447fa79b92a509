/**
 * A package's manifest: what the managing server signs and what an agent verifies before it installs.
 * The relay expiration date is deliberately not part of it: it is cache policy, changed by PATCH without
 * touching the content, while everything signed here is immutable for the package's lifetime.
 */
import type { InstallConditions } from './conditions.js';

/** The content formats an agent can unpack (DESIGN §1). */
export const packageFormats = ['tar.gz', 'zip', 'file'] as const;
export type PackageFormat = (typeof packageFormats)[number];

/** Everything about a package that the server signs; immutable once uploaded. */
export interface PackageManifest {
  packageId: string;
  name: string;
  version: string;
  sha256: string;
  size: number;
  format: PackageFormat;
  /** File name of the content; for `file` packages the name it is installed under. */
  fileName: string;
  installCommand: string;
  timeoutSeconds: number;
  conditions: InstallConditions;
}

/** A manifest with the managing server's Ed25519 signature over its canonical bytes (base64). */
export interface SignedManifest {
  manifest: PackageManifest;
  signature: string;
}

/** Canonical JSON: keys sorted at every level, so signer and verifier hash the very same bytes. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The bytes a manifest's signature covers. */
export function manifestBytes(manifest: PackageManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(manifest));
}
