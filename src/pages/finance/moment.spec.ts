import { localMomentOf, momentOf } from './moment';

describe('the trial balance’s moment picker (Moscow time)', () => {
  it('reads a datetime-local value as Moscow’s wall clock, with or without seconds, and writes it back', () => {
    expect(momentOf('2026-12-02T10:30')!.toISOString()).toBe('2026-12-02T07:30:00.000Z');
    expect(momentOf('2026-12-02T00:00:05')!.toISOString()).toBe('2026-12-01T21:00:05.000Z');
    expect(localMomentOf(new Date('2026-12-01T21:00:05.000Z'))).toBe('2026-12-02T00:00:05');
  });

  it('takes a malformed moment as none (now)', () => {
    for (const bad of ['2026-12-02', '2026-12-02T24:00', '2026-02-30T10:00', '2026-12-02T10:61', 'now', ['2026-12-02T10:30'], undefined]) {
      expect(momentOf(bad)).toBeNull();
    }
  });
});
