/**
 * Input no request may carry, whatever the endpoint:
 * - keys named like a member of Object.prototype (`__proto__`, `constructor`, `valueOf`, ...) and
 *   `prototype`: class-transformer drops them silently (against prototype pollution), so the
 *   validation pipe never saw them and refused nothing; an unknown field must be refused, never
 *   dropped (a donation with `"valueOf": 1` went through);
 * - the character U+0000 and unpaired UTF-16 surrogates (not text at all): PostgreSQL can store
 *   neither in jsonb (nor U+0000 in text), so they ended as a 500 instead of a 400.
 * Returns what is wrong (naming the field), or undefined.
 */
const FORBIDDEN_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

const NOT_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function unsafeContent(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return NOT_TEXT.test(value) ? `${path || 'value'} must be text without U+0000 or unpaired surrogates` : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unsafeContent(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const field = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) return `property ${field} should not exist`;
    if (NOT_TEXT.test(key)) return 'property names must be text without U+0000 or unpaired surrogates';
    const found = unsafeContent((value as Record<string, unknown>)[key], field);
    if (found) return found;
  }
  return undefined;
}
