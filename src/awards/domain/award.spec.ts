import { Decimal } from '../../common/money';
import { awardTransactionId, checkCsvRecord, checkRow, executeRefusal, isHeader, UploadDigest } from './award';
import { accrual, payDebtFirst } from '../../ledger/domain/accrual';

describe('an award row', () => {
  it('is a valid resident id, whole positive points as digits and an optional reference', () => {
    expect(checkRow('anna', '150', undefined)).toEqual({ ok: true, row: { residentId: 'anna', points: new Decimal(150), reference: '' } });
    expect(checkRow('anna', '150', ' t-1 ')).toMatchObject({ ok: true, row: { reference: 't-1' } });
    for (const points of ['-5', '2.5', '0', '000', 'five', '', '1e3', '1000000001', 5]) {
      expect(checkRow('anna', points, undefined)).toMatchObject({ ok: false, refusal: { reason: 'invalid_points' } });
    }
    for (const id of ['', 'bad id', '-x', 'a'.repeat(65), 7]) {
      expect(checkRow(id, '1', undefined)).toMatchObject({ ok: false, refusal: { reason: 'invalid_resident_id' } });
    }
    expect(checkRow('anna', '1', 'x'.repeat(101))).toMatchObject({ ok: false, refusal: { reason: 'invalid_reference' } });
    expect(checkRow('anna', '1', 'a\u0000b')).toMatchObject({ ok: false, refusal: { reason: 'invalid_reference' } });
  });

  it('from CSV: two or three columns, quoted values unquoted, a stray quote malformed', () => {
    expect(checkCsvRecord(['"anna"', '"10"', '"say ""hi"""'])).toMatchObject({
      ok: true,
      row: { residentId: 'anna', reference: 'say "hi"' },
    });
    expect(checkCsvRecord(['anna'])).toMatchObject({ ok: false, refusal: { reason: 'malformed_line' } });
    expect(checkCsvRecord(['anna', '1', 'a', 'b'])).toMatchObject({ ok: false, refusal: { reason: 'malformed_line' } });
    expect(checkCsvRecord(['anna', '"5'])).toMatchObject({ ok: false, refusal: { reason: 'malformed_line' } });
    expect(isHeader(['residentId', 'points', 'reference'])).toBe(true);
    expect(isHeader(['resident_id', 'Points'])).toBe(true);
    expect(isHeader(['anna', '5'])).toBe(false);
  });

  it('is credited by a transaction whose id is its row’s: the same row, the same id; an award’s ids in line order', () => {
    const award = '0b6f7c1e-3d5a-4f7e-9a51-2c8d9e0f1a2b';
    const id = awardTransactionId(award, 7);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(awardTransactionId(award, 7)).toBe(id);
    expect(awardTransactionId(award, 8)).not.toBe(id);
    expect(awardTransactionId('1c6f7c1e-3d5a-4f7e-9a51-2c8d9e0f1a2b', 7)).not.toBe(id);
    // neighbours: the same award's prefix, the line last (what keeps a chunk's index entries together)
    expect(awardTransactionId(award, 8).slice(0, 24)).toBe(id.slice(0, 24));
    expect(id.endsWith('00000007')).toBe(true);
    const lines = [1, 2, 255, 256, 65_536, 1_000_000];
    const ids = lines.map((line) => awardTransactionId(award, line));
    expect([...ids].sort()).toEqual(ids);
    expect(() => awardTransactionId(award, 0)).toThrow(RangeError);
    expect(() => awardTransactionId(award, 1.5)).toThrow(RangeError);
  });

  it('the same lines hash alike, whatever the CSV quoting or JSON', () => {
    const a = new UploadDigest();
    const b = new UploadDigest();
    a.add(['anna', '5', undefined]);
    b.add([' anna', '5 ', null]);
    expect(a.digest()).toBe(b.digest());
  });
});

describe('executing an award', () => {
  const ready = { status: 'ready' as const, totalPoints: new Decimal(100), budget: null, expiresAt: null };
  const now = new Date();
  it('is refused while validating, once done or failed, over budget, or with its expiry passed', () => {
    expect(executeRefusal(ready, now)).toBeNull();
    expect(executeRefusal({ ...ready, status: 'running' }, now)).toBeNull();
    expect(executeRefusal({ ...ready, status: 'validating' }, now)?.code).toBe('invalid_state');
    expect(executeRefusal({ ...ready, status: 'done' }, now)?.code).toBe('invalid_state');
    expect(executeRefusal({ ...ready, status: 'failed' }, now)?.code).toBe('invalid_state');
    expect(executeRefusal({ ...ready, budget: new Decimal(99) }, now)?.code).toBe('limit_exceeded');
    expect(executeRefusal({ ...ready, budget: new Decimal(100) }, now)).toBeNull();
    expect(executeRefusal({ ...ready, expiresAt: new Date(now.getTime() - 1) }, now)?.code).toBe('invalid_state');
  });
});

describe('an accrual', () => {
  it('pays a debt first, once between several accruals of one resident', () => {
    const debts = new Map([['anna', new Decimal(40)]]);
    expect(payDebtFirst(debts, 'anna', new Decimal(25)).toFixed()).toBe('25');
    expect(payDebtFirst(debts, 'anna', new Decimal(25)).toFixed()).toBe('15');
    expect(payDebtFirst(debts, 'anna', new Decimal(25)).toFixed()).toBe('0');
    expect(payDebtFirst(debts, 'bella', new Decimal(25)).toFixed()).toBe('0');
    expect(accrual('anna', new Decimal(25), new Decimal(15)).map((p) => `${p.side} ${p.account} ${p.amount.toFixed()}`)).toEqual([
      'D programme:issued 25',
      'C resident:anna:debt 15',
      'C resident:anna 10',
    ]);
  });
});
