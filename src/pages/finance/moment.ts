import { calendarDayStart, isCalendarDay } from '../../ledger/domain/calendar-day';

/** `<input type="datetime-local" step="1">`: Moscow's wall-clock time, seconds optional. */
const LOCAL_MOMENT = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A moment picked in Moscow time (`2026-12-01T18:30` or with seconds), or null for none or a malformed one. */
export function momentOf(text: unknown): Date | null {
  if (typeof text !== 'string') return null;
  const m = LOCAL_MOMENT.exec(text);
  if (!m || !isCalendarDay(m[1]) || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4] ?? 0) > 59) return null;
  return new Date(calendarDayStart(m[1]).getTime() + ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4] ?? 0)) * 1000);
}

/** A moment as the picker writes it, in Moscow time with seconds. */
export function localMomentOf(at: Date): string {
  return new Date(at.getTime() + 3 * 3600_000).toISOString().slice(0, 19);
}
