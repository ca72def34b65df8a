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

// NUL and lone surrogates are what PostgreSQL's text refuses: matching them is the point
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Deeper nesting than any request of this API has: refused before anything walks it by recursion. */
export const MAX_DEPTH = 32;

/**
 * Walks the value with a stack of its own (never the call stack: a small body of deeply nested
 * brackets must not overflow it and take the process down), depth-first in document order.
 */
export function unsafeContent(value: unknown, path = ''): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path: at, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (NOT_TEXT.test(v)) return `${at || 'value'} must be text without U+0000 or unpaired surrogates`;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_DEPTH) return `${at || 'value'} is nested deeper than ${MAX_DEPTH} levels`;
    const children: { value: unknown; path: string; depth: number }[] = [];
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) children.push({ value: v[i], path: `${at}[${i}]`, depth: depth + 1 });
    } else {
      for (const key of Object.keys(v)) {
        const field = at ? `${at}.${key}` : key;
        if (FORBIDDEN_KEYS.has(key)) return `property ${field} should not exist`;
        if (NOT_TEXT.test(key)) return 'property names must be text without U+0000 or unpaired surrogates';
        children.push({ value: (v as Record<string, unknown>)[key], path: field, depth: depth + 1 });
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return undefined;
}
