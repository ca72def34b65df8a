import fc from 'fast-check';
import { DomainError } from '../../src/common/errors';
import { Decimal } from '../../src/common/money';
import { LedgerReadService } from '../../src/ledger/ledger-read.service';
import { LedgerService } from '../../src/ledger/ledger.service';
import { ledgerViolations } from '../support/ledger-invariants';
import { startTestApp, TestApp } from '../support/app';

/**
 * The ledger against an in-memory model of what docs/accounting.md and API.md promise: every
 * command's outcome (accepted, or refused with which code) and every balance afterwards must be
 * the model's. A wrong refusal fails the test exactly as a wrong acceptance does.
 *
 * The model keeps, per account, the four sums a balance is made of; a balance in the account's
 * normal direction is posted = normal-side posted − other side, pendingIn = normal-side pending,
 * pendingOut = other-side pending, available = posted − pendingOut. A resident's account may
 * never have available below zero; system accounts are unbounded.
 */

type Code = 'insufficient_points' | 'invalid_state' | 'validation_failed';

interface Sums {
  d: number;
  c: number;
  dPending: number;
  cPending: number;
}

interface ModelTx {
  kind: 'posted' | 'pending' | 'void';
  from: string;
  to: string;
  amount: number;
  settled?: boolean;
  reversal?: boolean;
  reversed?: boolean;
}

interface Model {
  accounts: string[];
  sums: Map<string, Sums>;
  txs: ModelTx[];
}

interface Real {
  ledger: LedgerService;
  reads: LedgerReadService;
  ids: string[];
}

const creditNormal = (account: string) => !account.startsWith('programme:');
const floorZero = (account: string) => account.startsWith('resident:');

function sumsOf(m: Model, account: string): Sums {
  let s = m.sums.get(account);
  if (!s) m.sums.set(account, (s = { d: 0, c: 0, dPending: 0, cPending: 0 }));
  return s;
}

function view(s: Sums, account: string) {
  const [posted, pendingIn, pendingOut] = creditNormal(account) ? [s.c - s.d, s.cPending, s.dPending] : [s.d - s.c, s.dPending, s.cPending];
  return { posted, pendingIn, pendingOut, available: posted - pendingOut };
}

/** Would debiting `amount` more (posted or held) take a floor-zero account below zero? */
const overdraws = (m: Model, account: string, amount: number) => floorZero(account) && view(sumsOf(m, account), account).available < amount;

const transfer = (from: string, to: string, amount: number) => [
  { account: from, asset: 'POINTS', side: 'D' as const, amount: new Decimal(amount) },
  { account: to, asset: 'POINTS', side: 'C' as const, amount: new Decimal(amount) },
];

/** Runs the real call and checks it was accepted or refused exactly as the model expected. */
async function expectOutcome<T>(expected: Code | null, call: () => Promise<T>): Promise<T | undefined> {
  let result: T | undefined;
  try {
    result = await call();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    expect({ refused: error.code, detail: error.message }).toMatchObject({ refused: expected });
    return undefined;
  }
  expect({ refused: null }).toEqual({ refused: expected });
  return result;
}

async function expectBalances(m: Model, r: Real): Promise<void> {
  const real = await r.reads.balancesOf(m.accounts, 'POINTS');
  for (const account of m.accounts) {
    const b = real.get(account);
    const got = b
      ? {
          posted: b.posted.toNumber(),
          pendingIn: b.pendingIn.toNumber(),
          pendingOut: b.pendingOut.toNumber(),
          available: b.available.toNumber(),
        }
      : { posted: 0, pendingIn: 0, pendingOut: 0, available: 0 };
    expect({ account, ...got }).toEqual({ account, ...view(sumsOf(m, account), account) });
  }
}

/** A transaction recorded earlier: `pick` counts back from the latest (recent ones are picked most). */
const picked = (m: Readonly<Model>, pick: number) => m.txs.length - 1 - (pick % m.txs.length);

/** For a post or a void: an even `pick` takes an open hold when there is one (the rest try anything). */
function pickedHold(m: Readonly<Model>, pick: number): number {
  const open = m.txs.flatMap((tx, i) => (tx.kind === 'pending' && !tx.settled ? [i] : []));
  return pick % 2 === 0 && open.length > 0 ? open[(pick >> 1) % open.length] : picked(m, pick >> 1);
}

/** A posted transfer (earn, spend or move between residents). */
class Transfer implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly amount: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const [from, to] = [m.accounts[this.from], m.accounts[this.to]];
    const expected: Code | null = from === to ? 'validation_failed' : overdraws(m, from, this.amount) ? 'insufficient_points' : null;
    const tx = await expectOutcome(expected, () => r.ledger.record({ type: 'model', postings: transfer(from, to, this.amount) }));
    if (tx) {
      sumsOf(m, from).d += this.amount;
      sumsOf(m, to).c += this.amount;
      m.txs.push({ kind: 'posted', from, to, amount: this.amount });
      r.ids.push(tx.id);
    }
    await expectBalances(m, r);
  }
  toString = () => `transfer(${this.from}→${this.to}, ${this.amount})`;
}

/** A pending transfer: reserved against the payer's available balance, shown to the payee as pending. */
class Hold implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly amount: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const [from, to] = [m.accounts[this.from], m.accounts[this.to]];
    const expected: Code | null = from === to ? 'validation_failed' : overdraws(m, from, this.amount) ? 'insufficient_points' : null;
    const tx = await expectOutcome(expected, () =>
      r.ledger.record({ type: 'model', pending: true, postings: transfer(from, to, this.amount) }),
    );
    if (tx) {
      sumsOf(m, from).dPending += this.amount;
      sumsOf(m, to).cPending += this.amount;
      m.txs.push({ kind: 'pending', from, to, amount: this.amount });
      r.ids.push(tx.id);
    }
    await expectBalances(m, r);
  }
  toString = () => `hold(${this.from}→${this.to}, ${this.amount})`;
}

/** Posts a hold, whole or in part (the rest released): the part is the held amount plus `delta`. */
class Post implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly delta?: number,
  ) {}
  check = (m: Readonly<Model>) => m.txs.length > 0;
  async run(m: Model, r: Real) {
    const i = pickedHold(m, this.pick);
    const hold = m.txs[i];
    const part = this.delta === undefined ? undefined : hold.amount + this.delta;
    const amount = part ?? hold.amount;
    const expected: Code | null =
      hold.kind !== 'pending' || hold.settled ? 'invalid_state' : amount <= 0 || amount > hold.amount ? 'validation_failed' : null;
    const tx = await expectOutcome(expected, () => r.ledger.post(r.ids[i], part === undefined ? undefined : new Decimal(part)));
    if (tx) {
      hold.settled = true;
      sumsOf(m, hold.from).dPending -= hold.amount;
      sumsOf(m, hold.to).cPending -= hold.amount;
      sumsOf(m, hold.from).d += amount;
      sumsOf(m, hold.to).c += amount;
      m.txs.push({ kind: 'posted', from: hold.from, to: hold.to, amount });
      r.ids.push(tx.id);
    }
    await expectBalances(m, r);
  }
  toString = () => `post(#${this.pick}${this.delta === undefined ? '' : `, held${this.delta >= 0 ? '+' : ''}${this.delta}`})`;
}

/** Voids a hold: everything it reserved is released. */
class Void implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.txs.length > 0;
  async run(m: Model, r: Real) {
    const i = pickedHold(m, this.pick);
    const hold = m.txs[i];
    const tx = await expectOutcome(hold.kind !== 'pending' || hold.settled ? 'invalid_state' : null, () => r.ledger.void(r.ids[i]));
    if (tx) {
      hold.settled = true;
      sumsOf(m, hold.from).dPending -= hold.amount;
      sumsOf(m, hold.to).cPending -= hold.amount;
      m.txs.push({ kind: 'void', from: hold.from, to: hold.to, amount: 0 });
      r.ids.push(tx.id);
    }
    await expectBalances(m, r);
  }
  toString = () => `void(#${this.pick})`;
}

/** Reverses a posted transaction (once; never a reversal) with one that swaps its postings. */
class Reverse implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.txs.length > 0;
  async run(m: Model, r: Real) {
    const i = picked(m, this.pick);
    const original = m.txs[i];
    const expected: Code | null =
      original.kind !== 'posted' || original.reversal || original.reversed
        ? 'invalid_state'
        : overdraws(m, original.to, original.amount)
          ? 'insufficient_points'
          : null;
    const tx = await expectOutcome(expected, () => r.ledger.reverse(r.ids[i]));
    if (tx) {
      original.reversed = true;
      sumsOf(m, original.to).d += original.amount;
      sumsOf(m, original.from).c += original.amount;
      m.txs.push({ kind: 'posted', from: original.to, to: original.from, amount: original.amount, reversal: true });
      r.ids.push(tx.id);
    }
    await expectBalances(m, r);
  }
  toString = () => `reverse(#${this.pick})`;
}

describe('the ledger against its model', () => {
  let t: TestApp;
  let ledger: LedgerService;
  let reads: LedgerReadService;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp();
    ledger = t.app.get(LedgerService);
    reads = t.app.get(LedgerReadService);
  });

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  // accounts 0-2 residents, 3 the programme's issuing account, 4 a partner
  const account = fc.integer({ min: 0, max: 4 });
  const amount = fc.integer({ min: 1, max: 300 });
  const pick = fc.oneof(fc.nat({ max: 5 }), fc.nat());
  const resident = fc.integer({ min: 0, max: 2 });
  const commands = [
    fc.tuple(resident, amount).map(([to, a]) => new Transfer(3, to, a)), // an accrual
    fc.tuple(account, account, amount).map(([f, to, a]) => new Transfer(f, to, a)),
    fc.tuple(resident, amount).map(([f, a]) => new Hold(f, 4, a)), // a redemption's hold
    fc.tuple(account, account, amount).map(([f, to, a]) => new Hold(f, to, a)),
    pick.map((p) => new Post(p)),
    fc.tuple(pick, fc.integer({ min: -3, max: 1 })).map(([p, d]) => new Post(p, d)), // near the held amount, one over
    fc.tuple(pick, fc.integer({ min: -300, max: 0 })).map(([p, d]) => new Post(p, d)),
    pick.map((p) => new Void(p)),
    pick.map((p) => new Reverse(p)),
  ];

  it("accepts and refuses exactly what the model does, and shows the model's balances after every step", async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25, size: 'medium' }), async (cmds) => {
        run++;
        const accounts = [0, 1, 2]
          .map((i) => `resident:model${run}r${i}`)
          .concat(`programme:model${run}-issued`, `partner:model${run}:shop`);
        // every resident opens with an accrual, so that most of their holds and transfers can go through
        const model: Model = { accounts, sums: new Map(), txs: [] };
        const real: Real = { ledger, reads, ids: [] };
        for (const i of [0, 1, 2]) await new Transfer(3, i, 500).run(model, real);
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 40 },
    );
  }, 240_000);

  it('the invariants notice an asset whose postings are all on one side (a NULL difference is not zero)', async () => {
    const rolledBack = new Error('roll back');
    let seen: string[] = [];
    await expect(
      t.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(
          `INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
           VALUES (gen_random_uuid(), -1, 0, 'RUB', 'D', 5, false, now())`,
        );
        seen = await ledgerViolations(tx as unknown as typeof t.prisma);
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
    expect(seen).toEqual(expect.arrayContaining(['trial balance of RUB off by 5']));
  });
});
