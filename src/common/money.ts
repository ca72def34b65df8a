import Decimal from 'decimal.js';

/**
 * Amounts are exact decimals: decimal.js in code, NUMERIC in the database, strings in JSON.
 * Never a JavaScript number.
 */
export { Decimal };

/** The largest amount one posting may carry: far above any programme's needs, far below overflow. */
export const MAX_AMOUNT = new Decimal('1e15');

/** A decimal string as clients send it: no exponent, no sign unless allowed, no spaces. */
export const DECIMAL_STRING = /^-?(0|[1-9]\d{0,17})(\.\d{1,8})?$/;

export function isDecimalString(value: string, { signed = false } = {}): boolean {
  return DECIMAL_STRING.test(value) && (signed || !value.startsWith('-'));
}

export function decimalPlaces(value: Decimal): number {
  return value.decimalPlaces();
}

/** Formats an amount for JSON at the asset's scale, never in exponent form ("150", "12.50"). */
export function formatAmount(value: Decimal.Value, scale: number): string {
  return new Decimal(value).toFixed(scale);
}
