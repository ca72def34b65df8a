import { displayPrefixOf, generateApiKey, hashApiKey, sameDigest } from './api-key';

const KNOWN_DIGEST = '52e001f927e081917f0f7ee36b2c2822854381fe52112a55aefa8c12a32e236f'; // printf 'cpl_example-key' | sha256sum

describe('API keys', () => {
  it('are 256 random bits, never twice the same', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
    for (const key of keys) {
      expect(key).toMatch(/^cpl_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    }
  });

  it('are stored as their sha256 digest, one per key', () => {
    // a known answer (sha256 of the UTF-8 bytes), so that any other digest or encoding fails
    expect(hashApiKey('cpl_example-key')).toBe(KNOWN_DIGEST);
    const keys = Array.from({ length: 200 }, generateApiKey);
    expect(new Set(keys.map(hashApiKey)).size).toBe(200);
    const key = keys[0];
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).not.toContain(key.slice(4, 12));
  });

  it('show only their first 12 characters', () => {
    expect(displayPrefixOf('cpl_abcdefghSECRETPART')).toBe('cpl_abcdefgh');
  });

  it('compare digests exactly', () => {
    const a = hashApiKey('a');
    expect(sameDigest(a, hashApiKey('a'))).toBe(true);
    expect(sameDigest(a, hashApiKey('b'))).toBe(false);
    expect(sameDigest(a, a.slice(0, 10))).toBe(false);
    expect(sameDigest(a, a.slice(0, -1) + (a.endsWith('0') ? '1' : '0'))).toBe(false);
  });
});
