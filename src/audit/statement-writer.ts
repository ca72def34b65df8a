import { stringify } from 'csv-stringify';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { invalidInput, notFound } from '../common/errors';
import { Decimal, formatAmount } from '../common/money';
import { LedgerReadService, StatementRow } from '../ledger/ledger-read.service';
import { LedgerService } from '../ledger/ledger.service';

const PAGE = 5_000;

export interface StatementRequest {
  account: string;
  asset: string;
  /** exclusive; none: from the account's first entry (just before it, so the opening balance is 0) */
  from?: Date;
  to: Date;
  csv: boolean;
  /** an account the ledger never saw: an empty statement (the API), or not found (the CLI) */
  unknownAccount?: 'empty' | 'not_found';
}

/**
 * An account statement written to a stream, as JSON (the shape of
 * GET /v1/audit/accounts/{account}/statement) or CSV (its text/csv form, written with
 * csv-stringify), a page of postings at a time so that a year of a busy account never sits in
 * memory. The API and the CLI both write statements through here.
 */
export async function writeStatement(
  ledger: LedgerService,
  reads: LedgerReadService,
  q: StatementRequest,
  out: Writable,
): Promise<{ entries: number; openingBalance: string; closingBalance: string }> {
  const ref = await ledger.accountRef(q.account, q.asset);
  if (!ref && q.unknownAccount === 'not_found') throw notFound(`account ${q.account} (${q.asset})`);
  const from = q.from ?? (await firstEntryOf(reads, ref?.id, q.to));
  if (from >= q.to) throw invalidInput('to must be after from');
  q = { ...q, from };
  const scale = await ledger.assetScale(q.asset);
  const fmt = (v: Decimal) => formatAmount(v, scale);
  const opening = (await ledger.balance(q.account, q.asset, from)).posted;
  let balance = opening;
  let entries = 0;
  const entryOf = (row: StatementRow) => {
    balance = row.side === ref!.normalSide ? balance.plus(row.amount) : balance.minus(row.amount);
    entries++;
    return {
      transactionId: row.transactionId,
      type: row.type,
      description: row.description,
      ...(row.side === 'D' ? { debit: fmt(row.amount) } : { credit: fmt(row.amount) }),
      balance: fmt(balance),
      createdAt: row.createdAt.toISOString(),
    };
  };

  if (q.csv) {
    const csv = stringify({ header: true, columns: ['createdAt', 'transactionId', 'type', 'description', 'debit', 'credit', 'balance'] });
    csv.pipe(out, { end: false });
    const write = async (record: object) => {
      if (!csv.write(record)) await once(csv, 'drain');
    };
    await write({ createdAt: from.toISOString(), type: 'opening balance', balance: fmt(opening) });
    for await (const row of pages(reads, ref?.id, from, q.to)) await write(entryOf(row));
    await write({ createdAt: q.to.toISOString(), type: 'closing balance', balance: fmt(balance) });
    csv.end();
    await once(csv, 'end');
  } else {
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    const head = { account: q.account, asset: q.asset, from: from.toISOString(), to: q.to.toISOString(), openingBalance: fmt(opening) };
    await write(`${JSON.stringify(head).slice(0, -1)},"entries":[`);
    for await (const row of pages(reads, ref?.id, from, q.to)) await write(`${entries > 0 ? ',' : ''}\n  ${JSON.stringify(entryOf(row))}`);
    await write(`\n],"closingBalance":${JSON.stringify(fmt(balance))}}\n`);
  }
  return { entries, openingBalance: fmt(opening), closingBalance: fmt(balance) };
}

/** Just before the account's first entry up to `to` (the epoch for an account without any). */
async function firstEntryOf(reads: LedgerReadService, accountId: bigint | undefined, to: Date): Promise<Date> {
  const epoch = new Date(0);
  if (accountId === undefined) return epoch;
  const [first] = await reads.statementPage(accountId, epoch, to, 0n, 1);
  return first ? new Date(first.createdAt.getTime() - 1) : epoch;
}

async function* pages(reads: LedgerReadService, accountId: bigint | undefined, from: Date, to: Date): AsyncIterable<StatementRow> {
  if (accountId === undefined) return;
  let after = 0n;
  for (;;) {
    const page = await reads.statementPage(accountId, from, to, after, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].postingId;
  }
}
