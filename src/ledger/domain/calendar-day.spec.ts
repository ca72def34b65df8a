import { addDays, calendarDayOf, calendarDayStart, daysBetween, isCalendarDay } from './calendar-day';

describe('Moscow calendar days', () => {
  it('a day starts at 21:00 UTC the evening before', () => {
    expect(calendarDayStart('2026-12-02').toISOString()).toBe('2026-12-01T21:00:00.000Z');
    expect(calendarDayOf(new Date('2026-12-01T20:59:59.999Z'))).toBe('2026-12-01');
    expect(calendarDayOf(new Date('2026-12-01T21:00:00.000Z'))).toBe('2026-12-02');
  });

  it('counts days across months and years', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(daysBetween('2026-11-29', '2026-12-02')).toEqual(['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02']);
    expect(daysBetween('2026-12-02', '2026-12-01')).toEqual([]);
  });

  it('takes only real days written YYYY-MM-DD', () => {
    expect(isCalendarDay('2026-02-28')).toBe(true);
    for (const bad of ['2026-02-30', '2026-13-01', '26-01-01', '2026-1-1', '', undefined, 20260101, "2026-01-01'"]) {
      expect(isCalendarDay(bad)).toBe(false);
    }
  });
});
