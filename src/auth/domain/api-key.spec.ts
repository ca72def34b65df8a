import { displayPrefixOf, generateApiKey, hashApiKey, sameDigest } from './api-key';

describe('API keys', () => {
  it('are 256 random bits, never twice the same', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
    for (const key of keys) expect(key).toMatch(/^cpl_[A-Za-z0-9_-]{43}$/);
  });

  it('are stored as a sha256 digest from which the key cannot be read back', () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(4, 12));
    expect(hashApiKey(key)).toBe(hash);
  });

  it('show only a short prefix', () => {
    const key = generateApiKey();
    expect(displayPrefixOf(key)).toBe(key.slice(0, 12));
  });

  it('compare digests exactly', () => {
    const a = hashApiKey('a');
    expect(sameDigest(a, hashApiKey('a'))).toBe(true);
    expect(sameDigest(a, hashApiKey('b'))).toBe(false);
    expect(sameDigest(a, a.slice(0, 10))).toBe(false);
  });
});
