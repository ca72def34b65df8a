import { CODE_ALPHABET, generateCode, isWellFormedGeneratedCode } from './codes';

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

  it('a single mistyped character or a swap of neighbours is caught', () => {
    const code = generateCode();
    let caught = 0;
    let tried = 0;
    for (let i = 0; i < code.length; i++) {
      for (const c of CODE_ALPHABET) {
        if (c === code[i]) continue;
        tried++;
        if (!isWellFormedGeneratedCode(code.slice(0, i) + c + code.slice(i + 1))) caught++;
      }
    }
    expect(caught).toBe(tried);
    const swapped = code[1] + code[0] + code.slice(2);
    if (code[0] !== code[1]) expect(isWellFormedGeneratedCode(swapped)).toBe(false);
  });

  it('draws characters evenly (no bias an attacker could use)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 5000; i++) for (const c of generateCode().slice(0, -1)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = (5000 * 12) / CODE_ALPHABET.length;
    for (const c of CODE_ALPHABET) expect(Math.abs(counts.get(c)! - expected) / expected).toBeLessThan(0.1);
  });
});
