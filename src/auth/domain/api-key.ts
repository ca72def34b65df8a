import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: 256 random bits, shown once at creation. Only their sha256 is stored: with that
 * much entropy a fast hash is enough (nothing to brute-force), and it lets a key be found by an
 * indexed lookup instead of comparing against every stored hash.
 */
const KEY_PREFIX = 'cpl_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** A key of ours (or the bootstrap key's shape: no dots), as opposed to a JWT (three dot-separated parts). */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX) || !value.includes('.');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The visible start of a key, so that people can tell their keys apart in listings. */
export function displayPrefixOf(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 8);
}

/** Compares two hex digests in constant time. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Keys longer than this are refused before hashing: no key we issue comes close. */
export const MAX_API_KEY_LENGTH = 256;
