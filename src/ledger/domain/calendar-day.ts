/**
 * The programme's calendar days are Moscow's. Moscow keeps UTC+3 all year (no daylight saving
 * since 2014), so a day starts at 21:00 UTC the evening before. Days are written `YYYY-MM-DD`.
 */
const OFFSET_MS = 3 * 3600_000;
const DAY_MS = 24 * 3600_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isCalendarDay(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const m = DAY.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** The Moscow day a moment falls on. */
export function calendarDayOf(at: Date): string {
  return new Date(at.getTime() + OFFSET_MS).toISOString().slice(0, 10);
}

/** The moment a Moscow day starts. */
export function calendarDayStart(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00Z`) - OFFSET_MS);
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return days;
}
