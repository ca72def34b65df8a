import { CATALOGUES } from './messages';
import { localeOf } from './locale';

describe('the pages’ languages', () => {
  const ru = localeOf('ru');
  const en = localeOf('en');

  it('says points with Russian plural forms and ru-RU grouping', () => {
    expect(ru.points('1')).toBe('1 балл');
    expect(ru.points('2')).toBe('2 балла');
    expect(ru.points('5')).toBe('5 баллов');
    expect(ru.points('11')).toBe('11 баллов');
    expect(ru.points('21')).toBe('21 балл');
    expect(ru.points('1234')).toBe('1\u00a0234 балла');
    expect(ru.points('-5')).toBe('-5 баллов');
    expect(en.points('1')).toBe('1 point');
    expect(en.points('1234')).toBe('1,234 points');
  });

  it('keeps a large amount exact', () => {
    expect(ru.number('12345678901234567890')).toBe('12\u00a0345\u00a0678\u00a0901\u00a0234\u00a0567\u00a0890');
  });

  it('tells dates in Moscow time', () => {
    const d = new Date('2026-12-01T21:30:00Z');
    expect(ru.dateTime(d)).toBe('2 дек. 2026 г., 00:30');
    expect(ru.month(d)).toBe('декабрь 2026 г.');
  });

  it('has every message in both languages', () => {
    expect(Object.keys(CATALOGUES.en).sort()).toEqual(Object.keys(CATALOGUES.ru).sort());
    for (const [key, message] of Object.entries(CATALOGUES.ru)) {
      expect(typeof message === 'string' ? 'string' : 'plural').toBe(
        typeof CATALOGUES.en[key as keyof typeof CATALOGUES.en] === 'string' ? 'string' : 'plural',
      );
    }
  });
});
