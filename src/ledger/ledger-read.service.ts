import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import {
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
import { JournalRow, LedgerReadRepository, StatementRow, TrialBalanceRow } from './ledger-read.repository';

/** The rows the read side answers with are its service's contract, not its repository's. */
export type { JournalRow, StatementRow, TrialBalanceRow };
import { LedgerRepository } from './ledger.repository';

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
  ) {}

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
    const rows = await this.reads.history(row.id, after ? BigInt(after.p) : undefined, limit + 1);
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
