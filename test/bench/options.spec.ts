import { CommanderError } from 'commander';
import { parseOptions } from '../../bench/options';

/** `npm run bench -- …`: its options go through commander, and a bad one stops it before it measures anything. */
describe('the benchmark’s options', () => {
  // commander writes its complaint to stderr; here it is only checked that it refuses
  beforeAll(() => jest.spyOn(process.stderr, 'write').mockImplementation(() => true));
  afterAll(() => jest.restoreAllMocks());

  const refusal = (...argv: string[]) => {
    try {
      parseOptions(argv);
    } catch (error) {
      return error instanceof CommanderError ? error.code : `not a commander error: ${String(error)}`;
    }
    return 'accepted';
  };

  it('default to the figures docs/performance.md was measured with', () => {
    expect(parseOptions([])).toEqual({
      transfers: 6000,
      workers: 16,
      database: 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
      databaseName: 'civic_ledger_bench',
      events: 60000,
      redis: 'redis://127.0.0.1:6379',
      redemptions: 3000,
      validations: 20000,
      reconcile: 1000000,
      only: 'all',
      history: 100000,
      soak: 0,
      keep: false,
      rows: 1000000,
      awardWorker: false,
      awardReadRate: 100,
      auditReads: 10,
      lots: 1000000,
      console: 1000000,
      consoleSmall: 1000,
      growthSmall: 1000000,
      growthLarge: 10000000,
      growthDay: 100000,
    });
  });

  it('take whole numbers, a scenario set and --keep', () => {
    expect(
      parseOptions([
        '--transfers',
        '200',
        '--workers',
        '4',
        '--only',
        'reconcile',
        '--reconcile',
        '0',
        '--keep',
        '--soak',
        '30',
        '--database-name',
        'bench_2',
      ]),
    ).toMatchObject({
      databaseName: 'bench_2',
      transfers: 200,
      workers: 4,
      only: 'reconcile',
      reconcile: 0,
      keep: true,
      soak: 30,
    });
  });

  it('take the sizes of the growing-journal scenario, so that a smaller run is possible', () => {
    expect(
      parseOptions(['--only', 'reconcile-growth', '--growth-small', '100000', '--growth-large', '1000000', '--growth-day', '10000']),
    ).toMatchObject({ only: 'reconcile-growth', growthSmall: 100000, growthLarge: 1000000, growthDay: 10000 });
    expect(refusal('--growth-day', '0')).toBe('commander.invalidArgument');
  });

  it('take --award-worker for the awards scenario', () => {
    expect(parseOptions(['--only', 'awards', '--rows', '1000', '--award-worker'])).toMatchObject({
      only: 'awards',
      rows: 1000,
      awardWorker: true,
    });
  });

  it('refuse what is not a count (it once ran with NaN)', () => {
    for (const bad of ['NaN', 'abc', '', '1.5', '1e3', '-3', '0', '99999999999999999999']) {
      expect([bad, refusal('--transfers', bad)]).toEqual([bad, 'commander.invalidArgument']);
    }
    expect(refusal('--history', 'lots')).toBe('commander.invalidArgument');
    expect(refusal('--reconcile', '-1')).toBe('commander.invalidArgument');
  });

  it('refuse an unknown scenario set or option', () => {
    expect(refusal('--only', 'everything')).toBe('commander.invalidArgument');
    expect(refusal('--database-name', 'x; DROP DATABASE postgres')).toBe('commander.invalidArgument');
    expect(refusal('--tranfsers', '10')).toBe('commander.unknownOption');
  });
});
