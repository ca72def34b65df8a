/**
 * The programme's days and months are Moscow's. Moscow keeps UTC+3 all year (no daylight saving
 * since 2014), so a day starts at 21:00 UTC the evening before.
 */
const OFFSET_MS = 3 * 3600_000;

export function dayStart(at: Date): Date {
  const local = new Date(at.getTime() + OFFSET_MS);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - OFFSET_MS);
}

export function monthStart(at: Date): Date {
  const local = new Date(at.getTime() + OFFSET_MS);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - OFFSET_MS);
}
