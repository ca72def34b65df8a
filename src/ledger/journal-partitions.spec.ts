import { monthsAhead } from './journal-partitions.job';
import { JournalPartition } from './journal-partitions.repository';

const month = (table: string, y: number, m: number): JournalPartition => ({
  table,
  name: `${table}_y${y}m${String(m).padStart(2, '0')}`,
  from: new Date(Date.UTC(y, m - 1, 1)),
  to: new Date(Date.UTC(y, m, 1)),
});
const now = new Date('2026-12-15T10:00:00Z');

describe('months of journal partitions ready ahead', () => {
  it('counts the months after the current one without a gap, the least over the tables', () => {
    const all = ['ledger_transactions', 'ledger_postings'].flatMap((t) => [
      month(t, 2026, 11),
      month(t, 2026, 12),
      month(t, 2027, 1),
      month(t, 2027, 2),
      month(t, 2027, 3),
    ]);
    expect(monthsAhead(all, now)).toBe(3);
    // one table a month short
    expect(
      monthsAhead(
        all.filter((p) => p.name !== 'ledger_postings_y2027m03'),
        now,
      ),
    ).toBe(2);
    // a gap stops the count
    expect(
      monthsAhead(
        all.filter((p) => p.name !== 'ledger_postings_y2027m01'),
        now,
      ),
    ).toBe(0);
  });

  it('is -1 when the current month has no partition, or there are none', () => {
    expect(monthsAhead([month('ledger_postings', 2027, 1)], now)).toBe(-1);
    expect(monthsAhead([], now)).toBe(-1);
  });
});
