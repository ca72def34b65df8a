import fc from 'fast-check';
import { checkCharacter, CODE_ALPHABET, generateCode, isWellFormedGeneratedCode } from './codes';

const body = fc.string({ unit: fc.constantFrom(...CODE_ALPHABET), minLength: 12, maxLength: 12 });

describe('generated codes', () => {
  it('are unique, of the alphabet without look-alikes, and carry a valid check character', () => {
    const codes = new Set(Array.from({ length: 20_000 }, generateCode));
    expect(codes.size).toBe(20_000);
    for (const code of codes) {
      expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTWXY]{13}$/);
      expect(isWellFormedGeneratedCode(code)).toBe(true);
    }
    expect(CODE_ALPHABET).not.toMatch(/[01ILOUVZ]/);
  });

  it('check characters are Luhn mod 28 (known answers, worked out by hand from the rightmost character doubled)', () => {
    expect(checkCharacter('23456789ABCD')).toBe('C');
    expect(checkCharacter('YYYYYYYYYYYY')).toBe('E');
    expect(checkCharacter('222222222222')).toBe('2');
    expect(checkCharacter('KM7PQ3XR9TWA')).toBe('K');
    expect(isWellFormedGeneratedCode('23456789ABCDC')).toBe(true);
    expect(isWellFormedGeneratedCode('23456789ABCDE')).toBe(false);
    expect(isWellFormedGeneratedCode('23456789ABCD')).toBe(false);
    expect(isWellFormedGeneratedCode('23456789abcdc')).toBe(false);
  });

  it('a single mistyped character is always caught', () => {
    fc.assert(
      fc.property(body, fc.nat({ max: 12 }), fc.constantFrom(...CODE_ALPHABET), (b, i, c) => {
        const code = b + checkCharacter(b);
        fc.pre(code[i] !== c);
        expect(isWellFormedGeneratedCode(code.slice(0, i) + c + code.slice(i + 1))).toBe(false);
      }),
    );
  });

  it('a swap of two different neighbours is caught, except the one pair Luhn cannot see (2 and Y, values 0 and 27)', () => {
    fc.assert(
      fc.property(body, fc.nat({ max: 11 }), (b, i) => {
        const code = b + checkCharacter(b);
        const pair = code[i] + code[i + 1];
        fc.pre(code[i] !== code[i + 1]);
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        expect(isWellFormedGeneratedCode(swapped)).toBe(pair === '2Y' || pair === 'Y2');
      }),
      { numRuns: 2000 },
    );
  });

  it('draws characters evenly (no bias an attacker could use)', () => {
    // 240,000 characters: each within 5% of its share (1.1% is one standard deviation), where the
    // usual fault, a random byte taken modulo 28, gives four characters 9.4% more than theirs
    const codes = 20_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < codes; i++) for (const c of generateCode().slice(0, -1)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = (codes * 12) / CODE_ALPHABET.length;
    for (const c of CODE_ALPHABET) expect(Math.abs(counts.get(c)! - expected) / expected).toBeLessThan(0.05);
  });
});
