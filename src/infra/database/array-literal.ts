/**
 * A PostgreSQL array literal (`{1,2,3}`, `{"a","b \"c\""}`) for a large array parameter, sent
 * as one text value and cast in SQL (`${arrayLiteral(ids)}::uuid[]`). Prisma walks an array
 * parameter element by element before the driver writes it out; a batch of 1000 earn events has
 * a dozen arrays of 1000 to 2000 elements, and walking them cost more than the statement's
 * own work in Node. Strings are quoted and escaped; null is NULL.
 */
export function arrayLiteral(values: readonly (string | number | bigint | null | undefined)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'string') out += `"${v.replace(/[\\"]/g, '\\$&')}"`;
    else out += String(v);
  }
  return out + '}';
}
