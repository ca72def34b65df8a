import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parse } from 'csv-parse';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import pino from 'pino';
import { SchedulerRegistry } from '@nestjs/schedule';
import { createAppContext } from './app.setup';
import { ReconciliationRun, ReconciliationService } from './audit/reconciliation.service';
import { csvLines } from './awards/award-upload';
import { AwardRunner } from './awards/award-queue';
import { AwardsService } from './awards/awards.service';
import { SealService } from './audit/seal.service';
import { ApiClientsService } from './auth/api-clients.service';
import { CLIENT_ROLES, ClientRole } from './common/principal';
import { CatalogueService } from './catalogue/catalogue.service';
import { progressBar } from './cli/progress';
import { writeStatement } from './audit/statement-writer';
import { DomainError } from './common/errors';
import { Decimal } from './common/money';
import { ConfigError, loadCliConfig, processArgs } from './config/config';
import { DataFolderInUseError } from './infra/database/data-folder-lock';
import { LedgerService } from './ledger/ledger.service';
import { LedgerReadService } from './ledger/ledger-read.service';

/**
 * The operators' command-line tool: `npm run cli -- <command>` (or `node dist/cli.js`). Each
 * command boots the service without HTTP, with the same configuration (DATABASE_URL …), calls
 * the same services the API does, and exits: 0 done, 1 refused or failed, 2 the books or seals
 * do not hold. Output goes to stdout, log lines (JSON, warnings unless LOG_LEVEL) to stderr.
 * On the embedded database (no DATABASE_URL) the service must be stopped first: PGlite serves
 * one process at a time.
 */
const ACTOR = 'cli';
const EXIT_DISCREPANCY = 2;

async function withService(work: (app: INestApplicationContext) => Promise<number | void>): Promise<void> {
  const config = loadCliConfig();
  const app = await createAppContext(config, { destination: pino.destination({ dest: 2, sync: true }) });
  // a command does its one thing: sealing, sweeping and the nightly run stay with the service
  stopScheduledJobs(app.get(SchedulerRegistry));
  try {
    process.exitCode = (await work(app)) ?? 0;
  } finally {
    await app.close();
  }
}

function stopScheduledJobs(scheduler: SchedulerRegistry): void {
  for (const job of scheduler.getCronJobs().values()) void job.stop();
  for (const name of scheduler.getIntervals()) scheduler.deleteInterval(name);
  for (const name of scheduler.getTimeouts()) scheduler.deleteTimeout(name);
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function moment(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('not an RFC 3339 date or date-time');
  return date;
}

async function reconcile(app: INestApplicationContext): Promise<number> {
  const reconciliation = app.get(ReconciliationService);
  const started = await reconciliation.start(ACTOR);
  let run: ReconciliationRun = started;
  while (run.status === 'running') {
    await new Promise((r) => setTimeout(r, 200));
    run = await reconciliation.get(started.id);
  }
  const seconds = ((run.finishedAt!.getTime() - run.startedAt.getTime()) / 1000).toFixed(1);
  say(`reconciliation ${run.id}: ${run.status} (${run.checks.length} checks, ${seconds} s)`);
  for (const check of run.checks) say(`  ${check.passed ? 'ok    ' : 'FAILED'} ${check.name}: ${check.detail}`);
  if (run.status !== 'passed') say('What a failed check means and what to do: docs/operations.md, "Reconciliation and seals".');
  return run.status === 'passed' ? 0 : EXIT_DISCREPANCY;
}

async function verifySeals(app: INestApplicationContext): Promise<number> {
  const seals = app.get(SealService);
  const latest = (await seals.list(1)).items[0];
  if (!latest) {
    say('no seals yet: transactions are sealed about a minute after they are made');
    return 0;
  }
  const broken = await seals.brokenSeals();
  const journal = await sealsMatchJournal(app);
  if (broken.length === 0 && journal.passed) {
    say(`seals 1 to ${latest.id} (up to ${latest.coversTo.toISOString()}): every root and hash recomputes, each chained to the one before`);
    say(`  ${journal.detail}`);
    say(`  latest seal hash ${latest.hash}`);
    return 0;
  }
  for (const seal of broken) say(`BROKEN ${seal}: its root or hash does not recompute, or it is not chained to the seal before`);
  if (!journal.passed) say(`MISMATCH ${journal.detail}`);
  return EXIT_DISCREPANCY;
}

/** The reconciliation's own check that every sealed entry still hashes to the journal's transaction. */
async function sealsMatchJournal(app: INestApplicationContext): Promise<{ passed: boolean; detail: string }> {
  const result = await app.get(ReconciliationService).check('seals_match_journal');
  return {
    passed: result.passed,
    detail: result.passed ? result.detail : `${result.detail}${result.offending ? ` (${result.offending.join('; ')})` : ''}`,
  };
}

async function importCodes(app: INestApplicationContext, itemId: string, file: string): Promise<void> {
  const size = statSync(file).size;
  const bar = progressBar(`codes for ${itemId}`, size, 'bytes');
  const input = createReadStream(file);
  input.on('data', (chunk) => bar.tick(chunk.length));
  const parser = input.pipe(parse({ relax_column_count: true, skip_empty_lines: true, trim: true, bom: true }));
  async function* codes(): AsyncIterable<string> {
    for await (const record of parser as AsyncIterable<string[]>) yield record[0] ?? '';
  }
  try {
    const result = await app.get(CatalogueService).uploadCodes(itemId, codes());
    bar.stop();
    say(`${result.added} code(s) added to ${itemId}, ${result.duplicates} duplicate(s) skipped`);
  } catch (error) {
    bar.stop();
    input.destroy();
    throw error;
  }
}

async function exportStatement(
  app: INestApplicationContext,
  o: { account: string; from?: Date; to?: Date; asset: string; csv?: boolean; out?: string },
): Promise<void> {
  const to = o.to ?? new Date();
  if (o.from && to <= o.from) throw new DomainError('validation_failed', '--to must be after --from');
  const out: Writable = o.out ? createWriteStream(o.out) : process.stdout;
  const summary = await writeStatement(
    app.get(LedgerService),
    app.get(LedgerReadService),
    { account: o.account, asset: o.asset, from: o.from, to, csv: Boolean(o.csv), unknownAccount: 'not_found' },
    out,
  );
  if (o.out) {
    out.end();
    await once(out, 'finish');
    say(
      `${o.out}: ${summary.entries} entr${summary.entries === 1 ? 'y' : 'ies'}, opening ${summary.openingBalance}, closing ${summary.closingBalance}`,
    );
  }
}

async function createApiClient(
  app: INestApplicationContext,
  o: { name: string; role: ClientRole; source?: string; partner?: string },
): Promise<void> {
  const { client, apiKey } = await app
    .get(ApiClientsService)
    .create(ACTOR, { name: o.name, role: o.role, sourceId: o.source, partnerId: o.partner });
  say(
    `API client ${client.id} (${client.role}${client.sourceId ? ` of source ${client.sourceId}` : ''}${client.partnerId ? ` of partner ${client.partnerId}` : ''}): ${client.name}`,
  );
  say(`key (shown once, stored only as a hash): ${apiKey}`);
}

interface AwardOptions {
  file?: string;
  id?: string;
  description?: string;
  budget?: string;
  expiresAt?: Date;
  execute?: boolean;
}

/**
 * A bulk award from a file (streamed, as the API streams a text/csv upload) with its counts and
 * the refused lines, then, with --execute, credited here with a progress bar. `--id` executes
 * (or resumes) an award uploaded earlier. Exit 1 when nothing valid was uploaded or a row failed.
 */
async function award(app: INestApplicationContext, o: AwardOptions): Promise<number> {
  const awards = app.get(AwardsService);
  if (!o.id && (!o.file || !o.description)) throw new DomainError('validation_failed', 'give --file and --description, or --id');
  if (o.budget !== undefined && !/^[1-9]\d{0,14}$/.test(o.budget))
    throw new DomainError('validation_failed', '--budget must be whole points');
  let id = o.id;
  if (!id) {
    const size = statSync(o.file!).size;
    const bar = progressBar('validating', size, 'bytes');
    const input = createReadStream(o.file!);
    input.on('data', (chunk) => bar.tick(chunk.length));
    try {
      const created = await awards.create(
        { description: o.description!, budget: o.budget ? new Decimal(o.budget) : undefined, expiresAt: o.expiresAt, actor: ACTOR },
        csvLines(input),
      );
      bar.stop();
      id = created.id;
      say(
        `award ${created.id}: ${created.rows} row(s), ${created.valid} valid, ${created.invalid} refused, ${created.totalPoints.toFixed(0)} points`,
      );
      if (created.duplicateOf) say(`warning: an award of the same rows and description was uploaded before: ${created.duplicateOf}`);
      if (created.invalid > 0) say(`the refused lines and why: GET /v1/admin/awards/${created.id}/errors`);
    } catch (error) {
      bar.stop();
      input.destroy();
      throw error;
    }
  }
  if (!o.execute) return 0;
  const started = await awards.execute(id);
  const bar = progressBar('crediting', started.valid, 'rows');
  let shown = started.credited + started.failed;
  bar.tick(shown);
  // the execution itself runs in this process (the CLI has no queue); this only follows it
  const run = app.get(AwardRunner).run(id, true);
  let finished = false;
  void run.finally(() => (finished = true)).catch(() => undefined);
  for (;;) {
    const now = await awards.get(id);
    bar.tick(now.credited + now.failed - shown);
    shown = now.credited + now.failed;
    if (now.status === 'done' || finished) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await run;
  bar.stop();
  const done = await awards.get(id);
  say(`award ${id}: ${done.status}, ${done.credited} row(s) credited (${done.creditedPoints.toFixed(0)} points), ${done.failed} failed`);
  return done.status === 'done' && done.failed === 0 ? 0 : 1;
}

function program(): Command {
  const cli = new Command('civic-ledger')
    .description('The civic points ledger, from the command line (the same configuration as the service: DATABASE_URL …)')
    .showHelpAfterError();

  cli
    .command('reconcile')
    .description('run a reconciliation now, store its report, print its checks (exit 2 when it fails)')
    .action(() => withService(reconcile));

  cli
    .command('verify-seals')
    .description('recompute every seal of the journal and check them against the journal (exit 2 when one does not hold)')
    .action(() => withService(verifySeals));

  cli
    .command('import-codes')
    .description('add a file of codes (one a line, or the first column of a CSV) to a catalogue item’s pool')
    .requiredOption('--item <id>', 'catalogue item id')
    .requiredOption('--file <path>', 'the codes file')
    .action((o: { item: string; file: string }) => withService((app) => importCodes(app, o.item, o.file)));

  cli
    .command('export-statement')
    .description('an account statement: opening balance, entries, closing balance, as JSON or CSV')
    .requiredOption('--account <code>', 'account code, e.g. resident:anna or partner:coffee-chain:redeemed')
    .option('--from <time>', 'start (RFC 3339), exclusive; the account’s first entry when not given', moment)
    .option('--to <time>', 'end (RFC 3339), inclusive; now when not given', moment)
    .option('--asset <asset>', 'asset', 'POINTS')
    .option('--csv', 'CSV instead of JSON')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((o: { account: string; from?: Date; to?: Date; asset: string; csv?: boolean; out?: string }) =>
      withService((app) => exportStatement(app, o)),
    );

  cli
    .command('create-api-client')
    .description('create an API client and print its key (shown once)')
    .requiredOption('--name <name>', 'who it is for')
    .addOption(new Option('--role <role>', 'its role').choices(CLIENT_ROLES).makeOptionMandatory())
    .option('--source <id>', 'the source a source key posts for')
    .option('--partner <id>', 'the partner a partner key acts for')
    .action((o: { name: string; role: ClientRole; source?: string; partner?: string }) => withService((app) => createApiClient(app, o)));

  cli
    .command('award')
    .description(
      'upload a bulk award from a CSV file (residentId,points[,reference] a line) and, with --execute, credit it with a progress bar',
    )
    .option('--file <path>', 'the winners file')
    .option('--description <text>', 'what residents see in their history')
    .option('--budget <points>', 'most points the award may credit in total')
    .option('--expires-at <time>', 'when the awarded points expire (RFC 3339)', moment)
    .option('--id <awardId>', 'an award uploaded earlier (to execute or resume it)')
    .option('--execute', 'credit it now (here, in this process)')
    .action((o: AwardOptions) => withService((app) => award(app, o)));

  return cli;
}

program()
  .parseAsync(processArgs(), { from: 'user' })
  .catch((error: unknown) => {
    if (error instanceof ConfigError || error instanceof DataFolderInUseError) console.error(error.message);
    else if (error instanceof DomainError) console.error(`${error.code}: ${error.message}`);
    else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  });
