import { Injectable } from '@nestjs/common';
import { stringify } from 'csv-stringify/sync';
import type { Writable } from 'node:stream';
import { TransactionProof } from '../../audit/seal.service';
import { SealService } from '../../audit/seal.service';
import { ReconciliationRun, ReconciliationService } from '../../audit/reconciliation.service';
import { writeStatement } from '../../audit/statement-writer';
import { DomainError } from '../../common/errors';
import { Decimal, formatAmount } from '../../common/money';
import { addDays, calendarDayOf, calendarDayStart, isCalendarDay } from '../../ledger/domain/calendar-day';
import { AwardsService } from '../../awards/awards.service';
import {
  AccountFound,
  AccountStatementView,
  LedgerReadService,
  Liability,
  PeriodFigures,
  TransactionTraceRow,
  TrialBalanceReport,
} from '../../ledger/ledger-read.service';
import { LedgerService } from '../../ledger/ledger.service';
import { localMomentOf, momentOf } from './moment';
import { ProgrammeService } from '../../programme/programme.service';

/** The longest period the overview charts (days). */
export const MAX_PERIOD_DAYS = 366;
/** The overview's period when none is asked for: the last 30 days. */
export const DEFAULT_PERIOD_DAYS = 30;
/** Statement lines shown on the page (the CSV has them all). */
export const STATEMENT_LINES = 500;
const ACCOUNTS_FOUND = 50;
const RUNS_LISTED = 50;
const AWARDS_LISTED = 50;

/** An award as the awards capability gives it. */
export type AwardView = Awaited<ReturnType<AwardsService['get']>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACCOUNT_CODE = /^[\x21-\x7e]{3,200}$/;

export type TrialSort = 'account' | 'debits' | 'credits' | 'balance';
const TRIAL_SORTS: readonly TrialSort[] = ['account', 'debits', 'credits', 'balance'];

/** A chart's data for the drawing script: x as Unix seconds (each day's Moscow midnight), one array per series. */
export interface ChartData {
  x: number[];
  series: { key: string; values: number[] }[];
}

export interface OverviewView {
  figures: PeriodFigures;
  /** the period asked for was not a valid one: the default is shown */
  periodRefused: boolean;
  partnerNames: Record<string, string>;
  latestRun: ReconciliationRun | null;
  movements: ChartData;
  liability: ChartData;
}

export interface TrialBalanceView {
  report: TrialBalanceReport;
  /** the moment asked for, as the picker writes it (Moscow), or '' for now */
  asOfLocal: string;
  sort: TrialSort;
  dir: 'asc' | 'desc';
}

/**
 * The finance console's view models, read through the ledger's read side (journal, balances,
 * daily figures, trial balance, statements, a transaction's trace), the reconciliation service
 * and the seal service. Every view takes a handful of queries whatever the size of the books
 * (docs/pages.md counts them). Values stay decimals; templates format them.
 */
@Injectable()
export class FinancePagesService {
  constructor(
    private readonly reads: LedgerReadService,
    private readonly ledger: LedgerService,
    private readonly reconciliation: ReconciliationService,
    private readonly seals: SealService,
    private readonly programme: ProgrammeService,
    private readonly awards: AwardsService,
  ) {}

  /** The overview of a period of Moscow days (`from`..`to`, both included): the last 30 days by default. */
  async overview(fromText: unknown, toText: unknown, now = new Date()): Promise<OverviewView> {
    const today = calendarDayOf(now);
    let to = isCalendarDay(toText) ? toText : today;
    let from = isCalendarDay(fromText) ? fromText : addDays(to, -(DEFAULT_PERIOD_DAYS - 1));
    const asked = fromText !== undefined || toText !== undefined;
    let periodRefused = asked && (!isCalendarDay(fromText ?? from) || !isCalendarDay(toText ?? to));
    if (from > to || to > today || daysIn(from, to) > MAX_PERIOD_DAYS) {
      periodRefused = true;
      to = today;
      from = addDays(today, -(DEFAULT_PERIOD_DAYS - 1));
    }
    const [figures, runs, partners] = await Promise.all([
      this.reads.periodFigures(from, to, now),
      this.reconciliation.list(1),
      this.programme.listPartners(500),
    ]);
    const x = figures.days.map((d) => calendarDayStart(d.date).getTime() / 1000);
    const values = (f: (d: PeriodFigures['days'][number]) => Decimal) => figures.days.map((d) => f(d).toNumber());
    return {
      figures,
      periodRefused,
      partnerNames: Object.fromEntries(partners.items.map((p) => [p.id, p.name])),
      latestRun: runs.items[0] ?? null,
      movements: {
        x,
        series: [
          { key: 'issued', values: values((d) => d.issued) },
          { key: 'redeemed', values: values((d) => d.redeemed) },
          { key: 'donated', values: values((d) => d.donated) },
          { key: 'expired', values: values((d) => d.expired) },
        ],
      },
      liability: { x, series: [{ key: 'liability', values: values((d) => d.liability) }] },
    };
  }

  /** The trial balance now or at a moment picked in Moscow time, sorted by a column. */
  async trialBalance(asOfText: unknown, sortText: unknown, dirText: unknown): Promise<TrialBalanceView> {
    const asOf = momentOf(asOfText);
    const report = await this.reads.trialBalanceReport(asOf ?? undefined);
    const sort = TRIAL_SORTS.includes(sortText as TrialSort) ? (sortText as TrialSort) : 'account';
    const dir = dirText === 'desc' ? 'desc' : 'asc';
    const sign = dir === 'asc' ? 1 : -1;
    const accounts = [...report.accounts].sort((a, b) => {
      const by =
        sort === 'account'
          ? a.account.localeCompare(b.account) || a.asset.localeCompare(b.asset)
          : a[sort].comparedTo(b[sort]) || a.account.localeCompare(b.account);
      return by * sign;
    });
    return { report: { ...report, accounts }, asOfLocal: asOf ? localMomentOf(asOf) : '', sort, dir };
  }

  /** The trial balance as CSV, its amounts written as the audit API writes them. */
  async trialBalanceCsv(asOfText: unknown): Promise<{ csv: string; asOf: Date }> {
    const report = await this.reads.trialBalanceReport(momentOf(asOfText) ?? undefined);
    const fmt = (v: Decimal, asset: string) => formatAmount(v, report.scales.get(asset) ?? 0);
    const csv = stringify(
      report.accounts.map((r) => ({
        account: r.account,
        asset: r.asset,
        debits: fmt(r.debits, r.asset),
        credits: fmt(r.credits, r.asset),
        balance: fmt(r.balance, r.asset),
      })),
      { header: true, columns: ['account', 'asset', 'debits', 'credits', 'balance'] },
    );
    return { csv, asOf: report.asOf };
  }

  /**
   * The programme's liability now or at a moment picked in Moscow time (a moment still to come is
   * read as now): the liability report of the audit API (GET /v1/audit/liability), from the journal.
   */
  async liability(asOfText: unknown, now = new Date()): Promise<{ liability: Liability; asOfLocal: string }> {
    const asked = momentOf(asOfText);
    const asOf = asked && asked.getTime() < now.getTime() ? asked : null;
    return { liability: await this.reads.liability(asOf ?? now), asOfLocal: asOf ? localMomentOf(asOf) : '' };
  }

  /** The latest bulk awards, newest first: what each credits, and how far it has got. */
  async latestAwards(): Promise<AwardView[]> {
    return (await this.awards.list(AWARDS_LISTED)).items;
  }

  /** Accounts by code or by resident id. */
  async accounts(text: unknown): Promise<{ query: string; found: AccountFound[] | null }> {
    const query = typeof text === 'string' ? text.trim().slice(0, 200) : '';
    if (!query) return { query, found: null };
    return { query, found: await this.reads.findAccounts(query, ACCOUNTS_FOUND) };
  }

  /** An account's statement for a period of Moscow days (the last 30 by default). */
  async statement(
    accountText: unknown,
    fromText: unknown,
    toText: unknown,
    now = new Date(),
  ): Promise<{ view: AccountStatementView; fromDay: string; toDay: string }> {
    const { account, from, to, fromDay, toDay } = statementPeriod(accountText, fromText, toText, now);
    const view = await this.reads.statementView(account, 'POINTS', from, to, STATEMENT_LINES);
    if (!view) throw new DomainError('not_found', `account ${account}`);
    return { view, fromDay, toDay };
  }

  /** The statement's CSV: the audit API's own writer, so that both give the same bytes for the same period. */
  async statementCsv(accountText: unknown, fromText: unknown, toText: unknown, out: Writable, now = new Date()): Promise<void> {
    const { account, from, to } = statementPeriod(accountText, fromText, toText, now);
    await writeStatement(this.ledger, this.reads, { account, asset: 'POINTS', from, to, csv: true, unknownAccount: 'not_found' }, out);
  }

  /** A transaction traced to its cause, its reversal and its seal (null until it is sealed, about a minute after it was made). */
  async transaction(id: string): Promise<{ trace: TransactionTraceRow; proof: TransactionProof | null }> {
    if (!UUID.test(id)) throw new DomainError('not_found', `transaction ${id}`);
    const trace = await this.reads.transactionTrace(id);
    if (!trace) throw new DomainError('not_found', `transaction ${id}`);
    const proof = await this.seals.proof(id).catch((error: unknown) => {
      if (error instanceof DomainError && error.code === 'not_found') return null;
      throw error;
    });
    return { trace, proof };
  }

  /** The proof as the audit API gives it (GET /v1/audit/transactions/{id}/proof), for scripts/verify-proof.js. */
  async proof(id: string): Promise<object> {
    if (!UUID.test(id)) throw new DomainError('not_found', `transaction ${id}`);
    const p = await this.seals.proof(id);
    return {
      transactionId: p.transactionId,
      canonical: p.canonical,
      transactionHash: p.transactionHash,
      seal: {
        id: p.seal.id.toString(),
        coversFrom: p.seal.coversFrom.toISOString(),
        coversTo: p.seal.coversTo.toISOString(),
        transactions: p.seal.transactions,
        merkleRoot: p.seal.merkleRoot,
        previousHash: p.seal.previousHash,
        hash: p.seal.hash,
        createdAt: p.seal.createdAt.toISOString(),
      },
      proof: p.proof,
    };
  }

  async runs(): Promise<ReconciliationRun[]> {
    return (await this.reconciliation.list(RUNS_LISTED)).items;
  }

  async run(id: string): Promise<ReconciliationRun> {
    if (!UUID.test(id)) throw new DomainError('not_found', `reconciliation ${id}`);
    return this.reconciliation.get(id);
  }

  /** An admin's "run now": the run starts and goes on in the background. */
  startRun(actor: string): Promise<ReconciliationRun> {
    return this.reconciliation.start(actor);
  }
}

function daysIn(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;
}

/** A statement's account and its period: (start of `from`, end of `to`], Moscow days; the last 30 days by default. */
function statementPeriod(accountText: unknown, fromText: unknown, toText: unknown, now: Date) {
  const account = typeof accountText === 'string' ? accountText : '';
  if (!ACCOUNT_CODE.test(account)) throw new DomainError('not_found', 'no such account');
  const today = calendarDayOf(now);
  const toDay = isCalendarDay(toText) && toText <= today ? toText : today;
  const fromDay = isCalendarDay(fromText) && fromText <= toDay ? fromText : addDays(toDay, -(DEFAULT_PERIOD_DAYS - 1));
  return { account, from: calendarDayStart(fromDay), to: calendarDayStart(addDays(toDay, 1)), fromDay, toDay };
}
