import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import {
  ACCOUNT_SELECTORS,
  charityAccount,
  charityFundOf,
  classifyAccount,
  partnerAccountsPrefix,
  residentAccount,
  residentDebtAccount,
} from './domain/account';
import { balanceView } from './domain/balance';
import { ledgerInvalid } from './domain/errors';
import { AccountBalance, HistoryEntry } from './domain/ledger-transaction';
import { ResidentBalance, residentBalanceOf } from './domain/resident-balance';
import {
  AccountFound,
  JournalRow,
  LedgerReadRepository,
  StatementRow,
  TransactionTraceRow,
  TrialBalanceRow,
} from './ledger-read.repository';
import { DailyTotalsRepository, hourOf } from './daily-totals.repository';
import { addDays, calendarDayOf, calendarDayStart, daysBetween } from './domain/calendar-day';
import { RESIDENT_ID } from '../common/identifiers';

/** The rows the read side answers with are its service's contract, not its repository's. */
export type { AccountFound, JournalRow, StatementRow, TransactionTraceRow, TrialBalanceRow };
import { LedgerRepository } from './ledger.repository';

/**
 * A day's figures are kept once the day has been over this long: longer than any database
 * transaction may last (30 s), so that every transaction created that day has committed.
 */
export const DAY_CLOSE_MARGIN_MS = 2 * 60_000;

/** One day of the finance console's charts (POINTS), each movement in the programme's words. */
export interface DayFigures {
  date: string;
  /** net points issued (accruals less revoked accruals): programme:issued's movement */
  issued: Decimal;
  /** net points spent with partners (less cancellations) */
  redeemed: Decimal;
  /** net points given to charity funds */
  donated: Decimal;
  /** points taken from residents by transactions of type `expiry` */
  expired: Decimal;
  /** what residents held at the end of the day: the programme's outstanding liability */
  liability: Decimal;
}

export interface PeriodFigures {
  from: string;
  to: string;
  /** what residents held when the period began */
  openingLiability: Decimal;
  days: DayFigures[];
  totals: Omit<DayFigures, 'date' | 'liability'>;
  /** points redeemed with each partner: in the period, and up to its end */
  partners: { partnerId: string; period: Decimal; toDate: Decimal }[];
  /** points donated to each fund: in the period, and up to its end */
  funds: { fundId: string; period: Decimal; toDate: Decimal }[];
  /** closed days whose figures this read had to keep first (the scheduled job had not yet) */
  daysFilled: number;
}

export interface TrialBalanceReport {
  asOf: Date;
  accounts: (TrialBalanceRow & { balance: Decimal })[];
  totals: { asset: string; debits: Decimal; credits: Decimal }[];
  scales: ReadonlyMap<string, number>;
}

export interface AccountStatementView {
  account: string;
  asset: string;
  normalSide: 'D' | 'C';
  from: Date;
  to: Date;
  openingBalance: Decimal;
  closingBalance: Decimal;
  /** the first `limit` entries, each with the balance after it */
  entries: (StatementRow & { balance: Decimal })[];
  /** more entries than shown (the CSV has them all) */
  more: boolean;
}

export interface JournalSearch {
  from?: Date;
  to?: Date;
  type?: string;
  account?: string;
  source?: string;
  /** transactions that moved points to or from this partner's accounts or this charity fund */
  partner?: string;
  afterSeq?: bigint;
}

export interface Liability {
  asOf: Date;
  outstanding: Decimal;
  pending: Decimal;
  byExpiryMonth: { month: string; amount: Decimal }[];
  withoutExpiry: Decimal;
  issued: Decimal;
  redeemed: Decimal;
  donated: Decimal;
  expired: Decimal;
  /** owed by residents after revoked accruals they had spent (issued = outstanding + redeemed + donated + expired − debt) */
  debt: Decimal;
  redemptionRate: Decimal;
  breakageRate: Decimal;
}

export interface ProgrammeStats {
  asOf: Date;
  issued: Decimal;
  redeemed: Decimal;
  donated: { fundId: string; points: Decimal }[];
  outstanding: Decimal;
  residentsWithBalance: number;
  perDay: { date: string; issued: Decimal; redeemed: Decimal; donated: Decimal }[];
}

/**
 * The ledger's read side: what audit, residents, public statistics and finance views read of the
 * journal and the balances. Callers name accounts and owners in the programme's words; account
 * codes and the queries that select them stay inside the ledger.
 */
@Injectable()
export class LedgerReadService {
  constructor(
    private readonly reads: LedgerReadRepository,
    private readonly accounts: LedgerRepository,
    private readonly daily: DailyTotalsRepository,
  ) {}

  /**
   * Keeps the figures of every closed day not kept yet (each from that day's transactions only),
   * and of every closed hour of the open day. Returns how many days it filled. The scheduled job calls it; so does the first period read
   * that finds a day missing.
   */
  async keepDailyFigures(now = new Date()): Promise<number> {
    const closedBy = new Date(now.getTime() - DAY_CLOSE_MARGIN_MS);
    const live = calendarDayOf(closedBy);
    let filled = 0;
    for (const day of await this.daily.unfilledDays(addDays(live, -1))) {
      if (await this.daily.fillDay(day, calendarDayStart(day), calendarDayStart(addDays(day, 1)))) filled++;
    }
    for (const hour of await this.daily.unfilledHours(calendarDayStart(live), hourOf(closedBy))) {
      await this.daily.fillHour(hour);
    }
    return filled;
  }

  /**
   * A period's daily figures (Moscow days `from`..`to`, both included), from the kept daily
   * totals and, for the open day, its kept hours and the journal of its current hour: O(days),
   * not O(postings). Three queries (and one more per closed day or hour not yet kept).
   */
  async periodFigures(from: string, to: string, now = new Date()): Promise<PeriodFigures> {
    const daysFilled = await this.keepDailyFigures(now);
    const closedBy = new Date(now.getTime() - DAY_CLOSE_MARGIN_MS);
    const live = calendarDayOf(closedBy);
    const liveStart = calendarDayStart(live);
    const hoursUntil = new Date(Math.max(liveStart.getTime(), hourOf(closedBy).getTime()));
    const rows = await this.daily.figures(from, to, live, liveStart, hoursUntil);
    const zero = new Decimal(0);
    const byDay = new Map(
      daysBetween(from, to).map((date) => [date, { date, issued: zero, redeemed: zero, donated: zero, expired: zero, liability: zero }]),
    );
    let opening = zero;
    const partners = new Map<string, { partnerId: string; period: Decimal; toDate: Decimal }>();
    const funds = new Map<string, { fundId: string; period: Decimal; toDate: Decimal }>();
    const s = ACCOUNT_SELECTORS;
    for (const r of rows) {
      const debits = new Decimal(r.debits);
      const credits = new Decimal(r.credits);
      const day = r.day === null ? null : byDay.get(r.day);
      if (r.kind === 'resident') {
        if (day) {
          day.liability = day.liability.plus(credits).minus(debits);
          if (r.expiry) day.expired = day.expired.plus(debits).minus(credits);
        } else if (r.day === null) opening = opening.plus(credits).minus(debits);
      } else if (r.kind === 'issued') {
        if (day) day.issued = day.issued.plus(debits).minus(credits);
      } else if (r.kind === 'redeemed' || r.kind === 'charity') {
        const net = credits.minus(debits);
        if (day && r.kind === 'redeemed') day.redeemed = day.redeemed.plus(net);
        if (day && r.kind === 'charity') day.donated = day.donated.plus(net);
        const total =
          r.kind === 'redeemed'
            ? (partners.get(r.account) ??
              partners
                .set(r.account, {
                  partnerId: r.account.slice(s.partnerPrefix.length, -s.redeemedSuffix.length),
                  period: zero,
                  toDate: zero,
                })
                .get(r.account)!)
            : (funds.get(r.account) ??
              funds.set(r.account, { fundId: charityFundOf(r.account) ?? r.account, period: zero, toDate: zero }).get(r.account)!);
        total.toDate = total.toDate.plus(net);
        if (day) total.period = total.period.plus(net);
      }
    }
    // the day rows carry each day's change of the liability: running sums make it each day's close
    let liability = opening;
    const days = [...byDay.values()].map((d) => {
      liability = liability.plus(d.liability);
      return { ...d, liability };
    });
    const sum = (f: (d: DayFigures) => Decimal) => days.reduce((a, d) => a.plus(f(d)), zero);
    return {
      from,
      to,
      openingLiability: opening,
      days,
      totals: {
        issued: sum((d) => d.issued),
        redeemed: sum((d) => d.redeemed),
        donated: sum((d) => d.donated),
        expired: sum((d) => d.expired),
      },
      partners: [...partners.values()].sort((a, b) => a.partnerId.localeCompare(b.partnerId)),
      funds: [...funds.values()].sort((a, b) => a.fundId.localeCompare(b.fundId)),
      daysFilled,
    };
  }

  /**
   * The trial balance as the audit API gives it: every account's posted debits, credits and
   * balance in its normal direction, now or as of a moment, with totals per asset. Two queries.
   */
  async trialBalanceReport(asOf?: Date): Promise<TrialBalanceReport> {
    const [rows, scales] = await Promise.all([this.reads.trialBalance(asOf), this.accounts.assetScales()]);
    const totals = new Map<string, { asset: string; debits: Decimal; credits: Decimal }>();
    const accounts = rows.map((r) => {
      const total = totals.get(r.asset) ?? { asset: r.asset, debits: new Decimal(0), credits: new Decimal(0) };
      totals.set(r.asset, { asset: r.asset, debits: total.debits.plus(r.debits), credits: total.credits.plus(r.credits) });
      return { ...r, balance: r.normalSide === 'C' ? r.credits.minus(r.debits) : r.debits.minus(r.credits) };
    });
    return { asOf: asOf ?? new Date(), accounts, totals: [...totals.values()], scales };
  }

  /**
   * Accounts by code or by resident id: the resident's own and debt accounts, the account of
   * exactly that code, and those whose code starts with the text; `take` at most. One query.
   */
  findAccounts(text: string, take: number): Promise<AccountFound[]> {
    const exact = [text];
    if (RESIDENT_ID.test(text)) exact.push(residentAccount(text), residentDebtAccount(text));
    return this.reads.findAccounts(exact, text, take);
  }

  /**
   * An account's statement for (from, to]: opening and closing balances (posted, as of each end)
   * and its first `limit` entries with the balance after each. Four queries; null for an
   * account the ledger never had.
   */
  async statementView(account: string, asset: string, from: Date, to: Date, limit: number): Promise<AccountStatementView | null> {
    const row = await this.accounts.findAccount(account, asset);
    if (!row) return null;
    const [openingSums, closingSums, page] = await Promise.all([
      // the statement shows posted balances only: the pending ones (every hold the account ever had) are not read
      this.accounts.balanceSumsAsOf(row.id, from, true),
      this.accounts.balanceSumsAsOf(row.id, to, true),
      this.reads.statementPage(row.id, from, to, 0n, limit + 1),
    ]);
    const openingBalance = balanceView(openingSums, row.normalSide).posted;
    let balance = openingBalance;
    const entries = page.slice(0, limit).map((e) => {
      balance = e.side === row.normalSide ? balance.plus(e.amount) : balance.minus(e.amount);
      return { ...e, balance };
    });
    return {
      account,
      asset,
      normalSide: row.normalSide,
      from,
      to,
      openingBalance,
      closingBalance: balanceView(closingSums, row.normalSide).posted,
      entries,
      more: page.length > limit,
    };
  }

  /** A transaction with its postings, its cause (earn event, redemption, its metadata) and its reversal; null if there is none. */
  transactionTrace(id: string): Promise<TransactionTraceRow | null> {
    return this.reads.transactionTrace(id);
  }

  /** The journal in journal order, filtered; `take` transactions at most. */
  searchJournal(search: JournalSearch, take: number): Promise<JournalRow[]> {
    const { partner, ...filter } = search;
    return this.reads.searchJournal(
      partner ? { ...filter, accountPrefixes: [partnerAccountsPrefix(partner)], accounts: [charityAccount(partner)] } : filter,
      take,
    );
  }

  /** A page of an account's posted entries in (from, to], in journal order, after a posting id. */
  statementPage(accountId: bigint, from: Date, to: Date, afterPostingId: bigint, take: number): Promise<StatementRow[]> {
    return this.reads.statementPage(accountId, from, to, afterPostingId, take);
  }

  /**
   * The programme's liability at a moment (docs/accounting.md, "Liability"): outstanding and
   * pending points, the outstanding by month of expiry, issued, redeemed, donated and expired
   * totals, and the redemption and breakage rates (÷ issued).
   */
  async liability(asOf: Date): Promise<Liability> {
    const { totals, byExpiryMonth } = await this.reads.liability(asOf);
    const rate = (part: Decimal) => (totals.issued.gt(0) ? part.div(totals.issued) : new Decimal(0));
    return {
      asOf,
      ...totals,
      byExpiryMonth: byExpiryMonth.filter((m) => m.month !== null) as { month: string; amount: Decimal }[],
      withoutExpiry: byExpiryMonth.find((m) => m.month === null)?.amount ?? new Decimal(0),
      redemptionRate: rate(totals.redeemed),
      breakageRate: rate(totals.expired),
    };
  }

  trialBalance(asOf?: Date): Promise<TrialBalanceRow[]> {
    return this.reads.trialBalance(asOf);
  }

  /** A resident's points that expire later, per expiry moment, soonest first (`limit` dates at most). */
  async residentExpiring(residentId: string, limit?: number): Promise<{ expiresAt: Date; amount: Decimal }[]> {
    const row = await this.accounts.findAccount(residentAccount(residentId), 'POINTS');
    return row ? this.accounts.expiringOf(row.id, limit) : [];
  }

  /** Current balances of several accounts in one query; accounts never used are absent. */
  async balancesOf(accounts: string[], asset: string): Promise<Map<string, AccountBalance>> {
    const specs = new Map(accounts.map((a) => [a, classifyAccount(a)]));
    const sums = await this.reads.balanceSumsOf(accounts, asset);
    const result = new Map<string, AccountBalance>();
    for (const [account, s] of sums) result.set(account, { account, asset, ...balanceView(s, specs.get(account)!.normalSide) });
    return result;
  }

  async residentBalance(residentId: string): Promise<ResidentBalance> {
    return (await this.residentBalances([residentId])).get(residentId)!;
  }

  /** The balances of several residents in one query, every one of them present (zero when never used). */
  async residentBalances(residentIds: string[]): Promise<Map<string, ResidentBalance>> {
    const unique = [...new Set(residentIds)];
    const balances = await this.balancesOf(
      unique.flatMap((id) => [residentAccount(id), residentDebtAccount(id)]),
      'POINTS',
    );
    return new Map(
      unique.map((id) => [id, residentBalanceOf(id, balances.get(residentAccount(id)), balances.get(residentDebtAccount(id)))]),
    );
  }

  /**
   * What these residents owe (zero for those who owe nothing), reading their debt accounts only:
   * the earn path's lighter read of the same composition.
   */
  async residentDebts(residentIds: string[]): Promise<Map<string, Decimal>> {
    const unique = [...new Set(residentIds)];
    const debts = await this.balancesOf(unique.map(residentDebtAccount), 'POINTS');
    return new Map(unique.map((id) => [id, residentBalanceOf(id, undefined, debts.get(residentDebtAccount(id))).debt]));
  }

  /**
   * An account's posted entries, newest first: the amount in the account's normal direction
   * (negative when it went down) and the balance after each.
   */
  async history(account: string, asset: string, limit: number, cursor?: string): Promise<Page<HistoryEntry>> {
    const spec = classifyAccount(account);
    const after = decodeCursor<{ p: string }>(cursor, ['p']);
    if (after && !/^\d{1,19}$/.test(after.p)) throw ledgerInvalid('cursor is not one this service issued');
    const row = await this.accounts.findAccount(account, asset);
    if (!row) return { items: [], nextCursor: null };
    const rows = await this.reads.history(account, row.id, after ? BigInt(after.p) : undefined, limit + 1);
    return pageOf(
      rows,
      limit,
      (r) => ({
        transactionId: r.transactionId,
        type: r.type,
        amount: r.side === spec.normalSide ? r.amount : r.amount.neg(),
        balanceAfter: r.balanceAfter,
        description: r.description,
        originType: r.originType,
        createdAt: r.createdAt,
      }),
      (r) => ({ p: r.postingId.toString() }),
    );
  }

  /**
   * The programme's totals, from the ledger: points issued (net of revoked accruals), redeemed
   * with partners, donated per fund, still held by residents, and the last `days` days.
   */
  async programmeStats(days: number): Promise<ProgrammeStats> {
    const asOf = new Date();
    const [totals, perDay] = await Promise.all([this.reads.programmeTotals(), this.reads.programmePerDay(days)]);
    const zero = new Decimal(0);
    const of = (kind: 'issued' | 'redeemed' | 'resident') => totals.find((t) => t.kind === kind);
    return {
      asOf,
      issued: of('issued')?.balance ?? zero,
      redeemed: of('redeemed')?.balance ?? zero,
      donated: totals
        .filter((t) => t.kind === 'charity')
        .map((t) => ({ fundId: charityFundOf(t.account!)!, points: t.balance }))
        .sort((a, b) => a.fundId.localeCompare(b.fundId)),
      outstanding: of('resident')?.balance ?? zero,
      residentsWithBalance: of('resident')?.holders ?? 0,
      perDay,
    };
  }
}
