import { SchedulerRegistry } from '@nestjs/schedule';
import fc from 'fast-check';
import { DomainError } from '../../src/common/errors';
import { Decimal } from '../../src/common/money';
import { LedgerReadService } from '../../src/ledger/ledger-read.service';
import { LedgerService } from '../../src/ledger/ledger.service';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { ledgerViolations } from '../support/ledger-invariants';
import { startTestApp, TestApp } from '../support/app';

/**
 * Points expiry against a model of its lots (docs/accounting.md, "Lots"): credits with and without
 * expiry, spends of every kind (posted, held then posted or voided), cancels (reversals that give
 * back to the same lots), revocations (reversals of a credit: its own lot first), clock moves and
 * expiry runs. After every step each resident's available balance, every lot's remaining and the
 * points recorded as expired are the model's, and nothing expired is ever spent.
 *
 * The clock: a lot's expiry is a "day" d, stored as 2100-01-01 + d days; moving the clock to day T
 * moves every lot expiring on a day <= T into the past (200 years back), as time passing would.
 */

type Code = 'insufficient_points' | 'invalid_state' | 'validation_failed';

interface Lot {
  owner: number;
  amount: number;
  remaining: number;
  day: number | null;
  credit: number; // the index of the transaction that made it
}

interface Tx {
  kind: 'credit' | 'spend' | 'hold' | 'post' | 'void' | 'cancel' | 'revoke';
  owner: number;
  amount: number;
  /** what it took from which lots (index into lots) */
  took: Map<number, number>;
  settled?: boolean;
  reversed?: boolean;
  hold?: number;
}

interface Model {
  residents: string[];
  lots: Lot[];
  txs: Tx[];
  clock: number;
  expired: number;
}

interface Real {
  ledger: LedgerService;
  reads: LedgerReadService;
  prisma: PrismaService;
  ids: string[];
  run: number;
}

const EPOCH = Date.UTC(2100, 0, 1);
const DAY = 86_400_000;
const SOURCE = (run: number) => `programme:lots${run}-adjustments`;
const SHOP = (run: number) => `partner:lots${run}:shop`;

const expiredLot = (m: Model, l: Lot) => l.day !== null && l.day <= m.clock;
const available = (m: Model, owner: number) =>
  m.lots.filter((l) => l.owner === owner && !expiredLot(m, l)).reduce((sum, l) => sum + l.remaining, 0);

/** What the door does before a debit: the owner's expired lots are recorded as expired. */
function expireOwner(m: Model, owner: number): void {
  for (const l of m.lots) {
    if (l.owner === owner && expiredLot(m, l) && l.remaining > 0) {
      m.expired += l.remaining;
      l.remaining = 0;
    }
  }
}

/** Takes `amount` from the owner's open lots, soonest day first, lots without expiry last (`first`: a lot taken first). */
function take(m: Model, owner: number, amount: number, first?: number): Map<number, number> {
  const order = m.lots
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.owner === owner && l.remaining > 0 && !expiredLot(m, l))
    .sort((a, b) => (a.i === first ? -1 : b.i === first ? 1 : (a.l.day ?? Infinity) - (b.l.day ?? Infinity) || a.i - b.i));
  const took = new Map<number, number>();
  let left = amount;
  for (const { l, i } of order) {
    if (left === 0) break;
    const n = Math.min(l.remaining, left);
    l.remaining -= n;
    left -= n;
    took.set(i, n);
  }
  return took;
}

function giveBack(m: Model, took: Map<number, number>): void {
  for (const [i, n] of took) m.lots[i].remaining += n;
}

async function expectOutcome<T>(expected: Code | null, call: () => Promise<T>): Promise<T | undefined> {
  try {
    const result = await call();
    expect({ refused: null }).toEqual({ refused: expected });
    return result;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    expect({ refused: error.code, detail: error.message }).toMatchObject({ refused: expected });
    return undefined;
  }
}

async function expectState(m: Model, r: Real): Promise<void> {
  const balances = await r.reads.balancesOf(m.residents, 'POINTS');
  for (const [i, code] of m.residents.entries()) {
    expect({ code, available: balances.get(code)?.available.toNumber() ?? 0 }).toEqual({ code, available: available(m, i) });
  }
  const lots = await r.prisma.$queryRawUnsafe<{ code: string; amount: string; remaining: string }[]>(
    `SELECT a.code, l.amount::text, l.remaining::text FROM ledger_lots l JOIN ledger_accounts a ON a.id = l.account_id
     WHERE a.code = ANY ($1::text[]) ORDER BY l.id`,
    m.residents,
  );
  expect(lots.map((l) => [l.code, Number(l.amount), Number(l.remaining)])).toEqual(
    m.lots.map((l) => [m.residents[l.owner], l.amount, l.remaining]),
  );
  const [expired] = await r.prisma.$queryRawUnsafe<{ amount: string }[]>(
    `SELECT coalesce(sum(p.amount), 0)::text AS amount FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
     JOIN ledger_accounts a ON a.id = p.account_id WHERE t.type = 'expiry' AND p.side = 'D' AND a.code = ANY ($1::text[])`,
    m.residents,
  );
  expect({ expired: Number(expired.amount) }).toEqual({ expired: m.expired });
}

const points = (from: string, to: string, amount: number) => [
  { account: from, asset: 'POINTS', side: 'D' as const, amount: new Decimal(amount) },
  { account: to, asset: 'POINTS', side: 'C' as const, amount: new Decimal(amount) },
];

class Credit implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly owner: number,
    readonly amount: number,
    readonly day: number | null,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const tx = await r.ledger.record({
      type: 'adjustment',
      postings: points(SOURCE(r.run), m.residents[this.owner], this.amount),
      creditExpiresAt: this.day === null ? undefined : new Date(EPOCH + this.day * DAY),
    });
    // a day the clock has passed is stored in the past by the next clock move; until then it counts
    m.lots.push({ owner: this.owner, amount: this.amount, remaining: this.amount, day: this.day, credit: m.txs.length });
    m.txs.push({ kind: 'credit', owner: this.owner, amount: this.amount, took: new Map() });
    r.ids.push(tx.id);
    if (this.day !== null && this.day <= m.clock) await moveClock(m, r, m.clock);
    await expectState(m, r);
  }
  toString = () => `credit(r${this.owner}, ${this.amount}, ${this.day === null ? 'no expiry' : `day ${this.day}`})`;
}

class Spend implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly owner: number,
    readonly amount: number,
    readonly held: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const enough = available(m, this.owner) >= this.amount;
    const tx = await expectOutcome(enough ? null : 'insufficient_points', () =>
      r.ledger.record({
        type: this.held ? 'redeem.hold' : 'redeem',
        pending: this.held,
        postings: points(m.residents[this.owner], SHOP(r.run), this.amount),
      }),
    );
    if (tx) {
      expireOwner(m, this.owner);
      m.txs.push({ kind: this.held ? 'hold' : 'spend', owner: this.owner, amount: this.amount, took: take(m, this.owner, this.amount) });
      r.ids.push(tx.id);
    }
    await expectState(m, r);
  }
  toString = () => `${this.held ? 'hold' : 'spend'}(r${this.owner}, ${this.amount})`;
}

const pickOf = (m: Model, pick: number, kinds: Tx['kind'][]) => {
  const candidates = m.txs.flatMap((t, i) => (kinds.includes(t.kind) ? [i] : []));
  return candidates.length ? candidates[pick % candidates.length] : -1;
};

/** Settles a hold: posted (it keeps its lots) or voided (it gives them back). */
class Settle implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly post: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.txs.some((t) => t.kind === 'hold');
  async run(m: Model, r: Real) {
    const i = pickOf(m, this.pick, ['hold']);
    const hold = m.txs[i];
    const tx = await expectOutcome(hold.settled ? 'invalid_state' : null, () =>
      this.post ? r.ledger.post(r.ids[i]) : r.ledger.void(r.ids[i]),
    );
    if (tx) {
      hold.settled = true;
      if (this.post) {
        // a posted hold is a debit of the account: the door records its expired lots first
        // (docs/accounting.md, "Expiry"), though the hold took its points when it was made
        expireOwner(m, hold.owner);
        m.txs.push({ kind: 'post', owner: hold.owner, amount: hold.amount, took: hold.took, hold: i });
      } else {
        giveBack(m, hold.took);
        m.txs.push({ kind: 'void', owner: hold.owner, amount: 0, took: new Map() });
      }
      r.ids.push(tx.id);
    }
    await expectState(m, r);
  }
  toString = () => `${this.post ? 'post' : 'void'}(#${this.pick})`;
}

/** Cancels a spend (or a posted hold): a reversal that gives the points back to the lots they came from. */
class Cancel implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.txs.some((t) => t.kind === 'spend' || t.kind === 'post');
  async run(m: Model, r: Real) {
    const i = pickOf(m, this.pick, ['spend', 'post']);
    const spend = m.txs[i];
    const tx = await expectOutcome(spend.reversed ? 'invalid_state' : null, () => r.ledger.reverse(r.ids[i], {}, 'redeem.cancelled'));
    if (tx) {
      spend.reversed = true;
      giveBack(m, spend.took);
      m.txs.push({ kind: 'cancel', owner: spend.owner, amount: spend.amount, took: new Map() });
      r.ids.push(tx.id);
    }
    await expectState(m, r);
  }
  toString = () => `cancel(#${this.pick})`;
}

/** Revokes a credit: takes back what is available of it, from its own lot first. */
class Revoke implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.txs.some((t) => t.kind === 'credit');
  async run(m: Model, r: Real) {
    const i = pickOf(m, this.pick, ['credit']);
    const credit = m.txs[i];
    const back = Math.min(credit.amount, available(m, credit.owner));
    if (credit.reversed || back === 0) return;
    const tx = await expectOutcome(null, () =>
      r.ledger.reverseWith(r.ids[i], points(m.residents[credit.owner], SOURCE(r.run), back), {}, 'earn.revoked'),
    );
    credit.reversed = true;
    expireOwner(m, credit.owner);
    const own = m.lots.findIndex((l) => l.credit === i);
    m.txs.push({ kind: 'revoke', owner: credit.owner, amount: back, took: take(m, credit.owner, back, own) });
    r.ids.push(tx!.id);
    await expectState(m, r);
  }
  toString = () => `revoke(#${this.pick})`;
}

async function moveClock(m: Model, r: Real, day: number): Promise<void> {
  m.clock = day;
  await r.prisma.$executeRawUnsafe(
    `UPDATE ledger_lots l SET expires_at = l.expires_at - interval '200 years'
     FROM ledger_accounts a WHERE a.id = l.account_id AND a.code = ANY ($1::text[])
       AND l.expires_at >= $2::timestamptz AND l.expires_at < $3::timestamptz`,
    m.residents,
    new Date(EPOCH),
    new Date(EPOCH + (day + 1) * DAY),
  );
  await r.prisma.$executeRawUnsafe(
    `UPDATE account_balances b SET next_expiry = (SELECT min(l.expires_at) FROM ledger_lots l WHERE l.account_id = b.account_id AND l.remaining > 0)
     FROM ledger_accounts a WHERE a.id = b.account_id AND a.code = ANY ($1::text[])`,
    m.residents,
  );
}

class Clock implements fc.AsyncCommand<Model, Real> {
  constructor(readonly days: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await moveClock(m, r, m.clock + this.days);
    await expectState(m, r);
  }
  toString = () => `clock(+${this.days})`;
}

/** The expiry run: every expired remainder is recorded, once. */
class ExpiryRun implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    await r.ledger.expireLots(new Date(), 3);
    for (const owner of m.residents.keys()) expireOwner(m, owner);
    await expectState(m, r);
  }
  toString = () => 'expiryRun';
}

describe('points expiry against its model of lots', () => {
  let t: TestApp;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp();
    // the model decides when expiries are recorded: the minute's expiry run is the test's to call
    t.app.get(SchedulerRegistry).deleteInterval('lot-expiry');
  });

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  const owner = fc.integer({ min: 0, max: 1 });
  const amount = fc.integer({ min: 1, max: 120 });
  const day = fc.option(fc.integer({ min: 0, max: 6 }), { nil: null, freq: 3 });
  const pick = fc.nat({ max: 20 });
  const commands = [
    fc.tuple(owner, amount, day).map(([o, a, d]) => new Credit(o, a, d)),
    fc.tuple(owner, amount, fc.boolean()).map(([o, a, h]) => new Spend(o, a, h)),
    fc.tuple(pick, fc.boolean()).map(([p, post]) => new Settle(p, post)),
    pick.map((p) => new Cancel(p)),
    pick.map((p) => new Revoke(p)),
    fc.integer({ min: 1, max: 3 }).map((d) => new Clock(d)),
    fc.constant(new ExpiryRun()),
  ];

  it('keeps lots, balances and the journal as the model does, and never spends an expired point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'medium' }), async (cmds) => {
        run++;
        const model: Model = { residents: [0, 1].map((i) => `resident:lots${run}r${i}`), lots: [], txs: [], clock: -1, expired: 0 };
        const real: Real = { ledger: t.app.get(LedgerService), reads: t.app.get(LedgerReadService), prisma: t.prisma, ids: [], run };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 40 },
    );
    expect(await ledgerViolations(t.prisma)).toEqual([]);
  }, 300_000);
});
