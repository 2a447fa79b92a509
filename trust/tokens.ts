/** Bearer tokens: random, shown once, stored only as their SHA-256. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new random token (256 bits, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The form a token is stored and looked up in; tokens are random enough that no salt is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compares two secrets in constant time, so response timing reveals nothing about the expected one. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
