/**
 * A PostgreSQL array literal (`{1,2,3}`, `{"a","b \"c\""}`) for a large array parameter, sent
 * as one text value and cast in SQL (`${arrayLiteral(ids)}::uuid[]`). Prisma walks an array
 * parameter element by element before the driver writes it out; a batch of 1000 earn events has
 * a dozen arrays of 1000 to 2000 elements, and walking them cost more than the statement's
 * own work in Node. Strings are quoted and escaped; null is NULL.
 */
export function arrayLiteral(values: readonly (string | number | bigint | null | undefined)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v !== 'string') parts[i] = String(v);
    // most strings (ids, codes, amounts) have nothing to escape: no copy for them
    else parts[i] = NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPED, '\\$&')}"` : `"${v}"`;
  }
  return `{${parts.join(',')}}`;
}

const NEEDS_ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;
