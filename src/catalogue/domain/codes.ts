import { randomInt } from 'node:crypto';

/** Where a code is in its life: in the pool, issued to a redemption, redeemed at a till, or cancelled. */
export type CodeStatus = 'available' | 'issued' | 'redeemed' | 'cancelled';

export interface IssuedCode {
  code: string;
  validUntil: Date | null;
}

/**
 * Generated codes: 12 characters drawn with a cryptographic generator from an alphabet without
 * look-alike characters (no 0/O, 1/I/L, U/V, 2/Z), then a Luhn mod 28 (an even base, as Luhn needs) check character, so that a
 * mistyped code is told apart from a real one. About 57 random bits per code: no code can be
 * guessed from others.
 */
export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTWXY';
const N = CODE_ALPHABET.length;
export const GENERATED_CODE_LENGTH = 13;

export function generateCode(): string {
  let body = '';
  for (let i = 0; i < GENERATED_CODE_LENGTH - 1; i++) body += CODE_ALPHABET[randomInt(N)];
  return body + checkCharacter(body);
}

/** Luhn mod N over the alphabet: detects every single-character error and most transpositions. */
export function checkCharacter(body: string): string {
  let factor = 2;
  let sum = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    const value = CODE_ALPHABET.indexOf(body[i]);
    if (value < 0) throw new Error(`not a code character: ${body[i]}`);
    const addend = factor * value;
    sum += Math.floor(addend / N) + (addend % N);
    factor = factor === 2 ? 1 : 2;
  }
  return CODE_ALPHABET[(N - (sum % N)) % N];
}

export function isWellFormedGeneratedCode(code: string): boolean {
  if (code.length !== GENERATED_CODE_LENGTH || [...code].some((c) => !CODE_ALPHABET.includes(c))) return false;
  return checkCharacter(code.slice(0, -1)) === code[code.length - 1];
}

/** A code as partners and pools give it: printable, no spaces, 4 to 64 characters. */
export const POOL_CODE = /^[\x21-\x7e]{4,64}$/;
