import { Command, InvalidArgumentError, Option } from 'commander';

/** Residents the plain-SQL baselines and the ledger service scenario spread their transfers over. */
export const RESIDENTS = 1000;
/** Earn events per HTTP batch in the ingest scenario. */
export const EARN_BATCH = 1000;
/** The database the benchmark makes and drops on the server, unless --database-name names another. */
export const BENCH_DB = 'civic_ledger_bench';

export const SCENARIO_SETS = [
  'all',
  'reconcile',
  'reconcile-growth',
  'catalogue',
  'earn',
  'ledger',
  'webhooks',
  'processes',
  'console',
  'expiry',
  'awards',
  'replica',
] as const;

export interface BenchOptions {
  transfers: number;
  workers: number;
  /** a server URL: the benchmark makes and drops its own database (databaseName) there */
  database: string;
  /** the benchmark's own database on that server (two benchmarks on one server need two names) */
  databaseName: string;
  events: number;
  redis: string;
  redemptions: number;
  validations: number;
  /** postings of the reconciliation scenario's journal (0: no reconciliation) */
  reconcile: number;
  /** just these scenarios (while working on one) */
  only: (typeof SCENARIO_SETS)[number];
  /** history entries of the heavy resident in the reads scenario */
  history: number;
  /** seconds of steady mixed load after the scenarios, RSS sampled as it goes (0: none) */
  soak: number;
  /** keep the bench's database at the end (any scenario) */
  keep: boolean;
  /** with --only console: postings of the large ledger whose overview is timed against the small one's */
  console: number;
  /** with --only console: postings of the small ledger */
  consoleSmall: number;
  /** lots credited and then expired in the expiry scenario (a month's end) */
  lots: number;
  /** rows of the bulk award scenario (one resident each) */
  rows: number;
  /** with --only awards: the award executed by a worker process, the service serving the reads alone */
  awardWorker: boolean;
  /** with --only awards: balance reads a second, at fixed times, idle and during the award (0: four closed-loop readers) */
  awardReadRate: number;
  /** with --only replica: audit reads a second, in all, of the paced run (0: no paced run) */
  auditReads: number;
  /** with --only reconcile-growth: postings of the small journal (its history runs at a quarter of this a month) */
  growthSmall: number;
  /** with --only reconcile-growth: postings of the large journal (the same rate, a longer history) */
  growthLarge: number;
  /** with --only reconcile-growth: postings of the day the nightly run checks */
  growthDay: number;
}

function count(allowZero: boolean) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || (!allowZero && Number(value) === 0) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`not a whole number${allowZero ? '' : ' above 0'}`);
    }
    return Number(value);
  };
}

function databaseName(value: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) throw new InvalidArgumentError('not a database name (lower-case letters, digits and _)');
  return value;
}

/** `npm run bench -- …`'s options; a bad value (not a whole number, an unknown scenario) stops it with a message. */
export function parseOptions(argv: string[]): BenchOptions {
  const program = new Command('npm run bench --')
    .description('The ledger’s speed, measured against the plainest SQL doing the same work in the same run (docs/performance.md)')
    .option('--transfers <n>', 'transfers of the plain-SQL baselines and the ledger service scenario', count(false), 6000)
    .option('--workers <n>', 'concurrent workers of those scenarios (and the service’s pool size)', count(false), 16)
    .option('--database <url>', 'PostgreSQL server URL', 'postgres://postgres:postgres@127.0.0.1:5432/postgres')
    .option('--database-name <name>', 'the database the benchmark makes and drops on that server', databaseName, BENCH_DB)
    .option('--events <n>', 'earn events of the ingest scenario', count(false), 60000)
    .option('--redis <url>', 'Redis URL of the ingest scenario’s queue', 'redis://127.0.0.1:6379')
    .option('--redemptions <n>', 'redemptions of the catalogue scenario', count(false), 3000)
    .option('--validations <n>', 'partner code validations of the catalogue scenario', count(false), 20000)
    .option('--reconcile <n>', 'postings of the reconciliation scenario’s journal (0: none)', count(true), 1000000)
    .addOption(new Option('--only <scenarios>', 'just these scenarios').choices(SCENARIO_SETS).default('all'))
    .option('--history <n>', 'history entries of the heavy resident in the reads scenario', count(false), 100000)
    .option('--soak <seconds>', 'seconds of steady mixed load after the scenarios, RSS sampled as it goes (0: none)', count(true), 0)
    .option('--keep', "keep the bench's database at the end, for a look with psql (any scenario)", false)
    .option('--console <n>', 'with --only console: postings of the large ledger whose finance overview is timed', count(false), 1000000)
    .option('--console-small <n>', 'with --only console: postings of the small ledger it is compared with', count(false), 1000)
    .option('--lots <n>', "lots credited, then expired at once, in the expiry scenario (a month's end)", count(false), 1000000)
    .option('--rows <n>', 'rows of the bulk award scenario, one resident each (--only awards)', count(false), 1000000)
    .option(
      '--award-worker',
      'with --only awards: execute the award in a worker process (PROCESS_ROLE=worker), the service as PROCESS_ROLE=api',
      false,
    )
    .option(
      '--award-read-rate <n>',
      'with --only awards: balance reads a second, sent at fixed times, idle and during the award (0: four readers each reading again as soon as answered)',
      count(true),
      100,
    )
    .option(
      '--audit-reads <n>',
      'with --only replica: audit reads a second, in all, of a second run with reads at a steady pace (0: none)',
      count(true),
      10,
    )
    .option('--growth-small <n>', 'with --only reconcile-growth: postings of the small journal', count(false), 1000000)
    .option('--growth-large <n>', 'with --only reconcile-growth: postings of the large journal', count(false), 10000000)
    .option('--growth-day <n>', 'with --only reconcile-growth: postings of the day the nightly run checks', count(false), 100000)
    .showHelpAfterError()
    .exitOverride();
  program.parse(argv, { from: 'user' });
  return program.opts<BenchOptions>();
}
