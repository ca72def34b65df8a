import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Decimal } from '../../src/common/money';
import { EarnProcessor } from '../../src/earning/earn-processor.service';
import { databaseErrorOf } from '../../src/infra/database/prisma.service';
import { TransactionHost } from '../../src/infra/database/transaction-host';
import { LedgerRepository, NewJournalEntry } from '../../src/ledger/ledger.repository';
import { RedemptionRepository } from '../../src/redemption/redemption.repository';
import { RedemptionService } from '../../src/redemption/redemption.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { backendPid, waitUntilBlockedBy } from '../support/locks';
import { waitFor } from '../support/wait';

/**
 * The ledger's one door (ledger_record) checks what it is given: every path that moves points
 * reaches it, and a set of postings that does not balance or that would overdraw a resident is
 * refused there, whatever the caller checked before. To show that the door itself refuses (and
 * not only the caller's own validation), the postings are altered on their way to it.
 */
describe('the ledger’s one door', () => {
  let t: TestApp;
  let repository: LedgerRepository;
  let sourceKey: Record<string, string>;

  beforeAll(async () => {
    t = await startTestApp();
    repository = t.app.get(LedgerRepository);
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'doors', name: 'Doors' }).expect(201);
    sourceKey = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'doors', role: 'source', sourceId: 'doors' }).expect(201)
      ).body.apiKey,
    };
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'door-vote', sourceId: 'doors', eventType: 'door.vote', points: '20' })
      .expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'doorshop', name: 'Door shop', kind: 'shop' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'door-item', kind: 'PROMO_CODE', title: 'Door', partnerId: 'doorshop', pricePoints: '50', codeSource: 'GENERATED' })
      .expect(201);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  const resident = () => `d${randomUUID().slice(0, 8)}`;
  const key = () => ({ 'Idempotency-Key': randomUUID() });
  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  /** A new resident with 10 points: its id, its account and the adjustments account beside it. */
  const fundedResident = async () => {
    const id = resident();
    await grant(id, '10');
    const [account, adjustments] = await Promise.all([
      repository.findAccount(`resident:${id}`, 'POINTS'),
      repository.findAccount('programme:adjustments', 'POINTS'),
    ]);
    return { id, account: account!, adjustments: adjustments! };
  };
  const postingsOf = async (residentId: string) =>
    Number(
      (
        await t.prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = ${`resident:${residentId}`}`
      )[0].n,
    );
  const transactions = async () => Number((await t.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM ledger_transactions`)[0].n);

  /** The next write reaches the door with its first posting one point larger: no longer balanced. */
  const unbalanceNext = () => {
    const record = repository.record.bind(repository);
    return jest
      .spyOn(repository, 'record')
      .mockImplementationOnce((entries: NewJournalEntry[]) =>
        record(
          entries.map((e, i) =>
            i > 0 ? e : { ...e, postings: e.postings.map((p, j) => (j > 0 ? p : { ...p, amount: p.amount.plus(1) })) },
          ),
        ),
      );
  };
  /** The next write reaches the door with every posting's side swapped: balanced, but taking from the resident. */
  const swapNext = () => {
    const record = repository.record.bind(repository);
    return jest.spyOn(repository, 'record').mockImplementationOnce((entries: NewJournalEntry[]) =>
      record(
        entries.map((e) => ({
          ...e,
          postings: e.postings.map((p) => ({ ...p, side: p.side === 'D' ? ('C' as const) : ('D' as const) })),
        })),
      ),
    );
  };

  describe('called directly', () => {
    it('refuses an unbalanced set (CL002) and one that would overdraw (CL001, naming the account), writing nothing', async () => {
      const { account, adjustments } = await fundedResident();
      const entry = (debit: string, credit: string): NewJournalEntry => ({
        id: randomUUID(),
        type: 'test',
        kind: 'posted',
        metadata: {},
        postings: [
          { accountId: account.id, asset: 'POINTS', side: 'D', amount: new Decimal(debit) },
          { accountId: adjustments.id, asset: 'POINTS', side: 'C', amount: new Decimal(credit) },
        ],
      });
      const before = await transactions();
      // both ways the repository sends the call: a named statement on the driver when no
      // transaction is open, through the open transaction's client otherwise
      const host = t.app.get(TransactionHost);
      for (const send of [
        (entries: NewJournalEntry[]) => repository.record(entries),
        (entries: NewJournalEntry[]) => host.run(() => repository.record(entries)),
      ]) {
        const refusal = (entries: NewJournalEntry[]) => send(entries).then(() => ({ refused: false }), databaseErrorOf);
        expect(await refusal([entry('5', '4')])).toMatchObject({ sqlState: 'CL002' });
        expect(await refusal([entry('11', '11')])).toMatchObject({ sqlState: 'CL001', detail: account.id.toString() });
        // a batch both adding to and taking from one resident is refused: the summed check would hide an overdraft
        const mixed = [
          entry('10', '10'),
          {
            ...entry('10', '10'),
            id: randomUUID(),
            postings: entry('10', '10').postings.map((p) => ({ ...p, side: p.side === 'D' ? ('C' as const) : ('D' as const) })),
          },
        ];
        expect(await refusal(mixed)).toMatchObject({ sqlState: 'CL002' });
      }
      expect(await transactions()).toBe(before);
      expect(await repository.record([entry('10', '10')])).toMatchObject({ availableAfter: new Map([[account.id, new Decimal(0)]]) });
    });

    it('refuses a batch for whatever one of its transactions gets wrong (CL002, naming the posting or transaction), postings first, writing nothing', async () => {
      const { id: bea, account, adjustments } = await fundedResident();
      type Posting = NewJournalEntry['postings'][number];
      const posting = (accountId: bigint, side: 'D' | 'C', amount: string, more: Partial<Posting> = {}): Posting => ({
        accountId,
        asset: 'POINTS',
        side,
        amount: new Decimal(amount),
        ...more,
      });
      const tx = (...postings: Posting[]): NewJournalEntry => ({ id: randomUUID(), type: 'test', kind: 'posted', metadata: {}, postings });
      // a credit of one point to bea: the batch's first transaction, fine in itself
      const credit = () => tx(posting(adjustments.id, 'D', '1'), posting(account.id, 'C', '1'));
      const refusal = (entries: NewJournalEntry[]) => repository.record(entries).then(() => ({ refused: false }), databaseErrorOf);
      const before = await transactions();
      const cases: [NewJournalEntry, (second: NewJournalEntry) => string][] = [
        [tx(posting(adjustments.id, 'D', '1'), posting(987654321n, 'C', '1')), () => 'posting 4: no ledger account 987654321'],
        [
          tx(posting(adjustments.id, 'D', '1', { asset: 'RUB' }), posting(account.id, 'C', '1')),
          () => 'posting 3: account programme:adjustments holds POINTS, not RUB',
        ],
        [
          tx(posting(adjustments.id, 'D', '1'), posting(account.id, 'C', '1', { shard: 3 })),
          () => `posting 4: account resident:${bea} has no balance row 3`,
        ],
        [tx(posting(adjustments.id, 'D', '0'), posting(account.id, 'C', '0')), () => 'posting 3: amount must be positive'],
        [tx(posting(adjustments.id, 'D', '1')), (second) => `transaction ${second.id} needs at least 2 postings`],
        [
          tx(posting(adjustments.id, 'D', '2'), posting(account.id, 'C', '1')),
          (second) => `transaction ${second.id} is not balanced: POINTS debits and credits differ by 1`,
        ],
        [
          tx(posting(account.id, 'D', '1'), posting(adjustments.id, 'C', '1')),
          () => `a batch cannot both add to and take from resident:${bea}: record those apart`,
        ],
      ];
      for (const [second, message] of cases) {
        expect(await refusal([credit(), second, credit()])).toMatchObject({ sqlState: 'CL002', message: message(second) });
      }
      // the postings are checked before the transactions: an unbalanced first transaction is not
      // the one named when a later posting is wrong
      const unbalanced = tx(posting(adjustments.id, 'D', '2'), posting(account.id, 'C', '1'));
      expect(await refusal([unbalanced, tx(posting(adjustments.id, 'D', '1'), posting(account.id, 'C', '-1'))])).toMatchObject({
        sqlState: 'CL002',
        message: 'posting 4: amount must be positive',
      });
      expect(await transactions()).toBe(before);
      await repository.record([credit(), credit()]);
      expect(await transactions()).toBe(before + 2);
    });
  });

  describe('its locks', () => {
    it('takes every balance row of a call in the ledger’s order: waiting for the first, it holds none of the others', async () => {
      const residents = Array.from({ length: 30 }, resident);
      for (const r of residents) await grant(r, '10');
      const accounts = await Promise.all(residents.map((r) => repository.findAccount(`resident:${r}`, 'POINTS')));
      const adjustments = await repository.findAccount('programme:adjustments', 'POINTS');
      const entry: NewJournalEntry = {
        id: randomUUID(),
        type: 'test',
        kind: 'posted',
        metadata: {},
        postings: [
          ...accounts.map((a) => ({ accountId: a!.id, asset: 'POINTS', side: 'D' as const, amount: new Decimal(1) })),
          { accountId: adjustments!.id, asset: 'POINTS', side: 'C', amount: new Decimal(30) },
        ],
      };
      const ids = [...accounts.map((a) => a!.id), adjustments!.id].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const [first, ...rest] = ids;
      const other = new Client({ connectionString: t.databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [first.toString()]);
        const pending = repository.record([entry]).then(
          () => 'recorded',
          (e: unknown) => databaseErrorOf(e).message,
        );
        await waitUntilBlockedBy(t.prisma, other, 'a door call to wait', '%ledger_record%');
        // the door waits for the first row in the order; every other row of the call is free
        const free = await other.query(
          'SELECT account_id FROM account_balances WHERE account_id = ANY ($1::bigint[]) FOR UPDATE SKIP LOCKED',
          [rest.map(String)],
        );
        const rows = await other.query('SELECT count(*)::int AS n FROM account_balances WHERE account_id = ANY ($1::bigint[])', [
          rest.map(String),
        ]);
        expect(free.rowCount).toBe(rows.rows[0].n);
        await other.query('ROLLBACK');
        expect(await pending).toBe('recorded');
      } finally {
        await other.end();
      }
    });

    it('holds the rows for the balance changes and the postings only: a call that settles nothing has written its transactions and lots before it waits; a settlement has not', async () => {
      const { account, adjustments } = await fundedResident();
      const entry = (kind: 'posted' | 'pending', side: 'D' | 'C', pendingId?: string): NewJournalEntry => ({
        id: randomUUID(),
        type: 'test',
        kind,
        pendingId,
        expiresAt: kind === 'pending' ? new Date(Date.now() + 3_600_000) : undefined,
        metadata: {},
        postings: [
          { accountId: account.id, asset: 'POINTS', side, amount: new Decimal(1) },
          { accountId: adjustments.id, asset: 'POINTS', side: side === 'D' ? 'C' : 'D', amount: new Decimal(1) },
        ],
      });
      const hold = entry('pending', 'D');
      await repository.record([hold]);
      const credit = entry('posted', 'C');
      const settlement = entry('posted', 'D', hold.id);
      /** The tables a door call waiting behind `other`'s lock of the resident's row has written to so far. */
      const writtenWhileWaiting = async (call: NewJournalEntry) => {
        const other = new Client({ connectionString: t.databaseUrl });
        await other.connect();
        try {
          await other.query('BEGIN');
          await other.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [account.id.toString()]);
          const pending = repository.record([call]).then(
            () => 'recorded',
            (e: unknown) => databaseErrorOf(e).message,
          );
          await waitUntilBlockedBy(t.prisma, other, 'a door call to wait', '%ledger_record%');
          // a table written in a transaction is held ROW EXCLUSIVE by it until the commit
          const written = await other.query<{ table: string }>(
            `SELECT DISTINCT coalesce(i.inhparent, l.relation)::regclass::text AS table
             FROM pg_locks l JOIN pg_class c ON c.oid = l.relation AND c.relkind IN ('r', 'p')
             LEFT JOIN pg_inherits i ON i.inhrelid = l.relation
             WHERE l.pid = (SELECT pid FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)) LIMIT 1)
               AND l.mode = 'RowExclusiveLock' AND l.granted`,
            [backendPid(other)],
          );
          await other.query('ROLLBACK');
          expect(await pending).toBe('recorded');
          return written.rows.map((r) => r.table).filter((table) => table.startsWith('ledger_'));
        } finally {
          await other.end();
        }
      };
      expect((await writtenWhileWaiting(credit)).sort()).toEqual(['ledger_lots', 'ledger_transaction_ids', 'ledger_transactions']);
      // a settlement's transaction waits for the rows: the door checks under them that no one settled the hold meanwhile
      expect(await writtenWhileWaiting(settlement)).toEqual([]);
      const balances = await t.prisma.$queryRaw<{ posted: string; pending: string }[]>`
        SELECT (credits_posted - debits_posted)::text AS posted, debits_pending::text AS pending FROM account_balances WHERE account_id = ${account.id}`;
      expect(balances).toEqual([{ posted: '10', pending: '0' }]);
    });
  });

  describe('its bound', () => {
    it('a call whose postings come past its bound after its start (it waited for a lock) fails with CL005 and writes nothing', async () => {
      const { account, adjustments } = await fundedResident();
      const entry = (): NewJournalEntry => ({
        id: randomUUID(),
        type: 'test',
        kind: 'posted',
        metadata: {},
        postings: [
          { accountId: adjustments.id, asset: 'POINTS', side: 'D', amount: new Decimal(1) },
          { accountId: account.id, asset: 'POINTS', side: 'C', amount: new Decimal(1) },
        ],
      });
      const host = t.app.get(TransactionHost);
      // the bound, 30 s, made short for this call (the setting can only shorten it)
      const boundedCall = (bound: string) =>
        host.run(async () => {
          await host.client.$executeRawUnsafe(`SET LOCAL civic.ledger_call_limit = '${bound}'`);
          return repository.record([entry()]);
        });
      const before = await transactions();
      const balance = async () =>
        (
          await t.prisma.$queryRaw<
            { c: string }[]
          >`SELECT sum(credits_posted)::text AS c FROM account_balances WHERE account_id = ${account.id}`
        )[0].c;
      const credited = await balance();
      const other = new Client({ connectionString: t.databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [account.id.toString()]);
        const pending = boundedCall('300 milliseconds').then(() => ({ sqlState: 'none' }), databaseErrorOf);
        await waitUntilBlockedBy(t.prisma, other, 'a door call to wait', '%ledger_record%');
        await new Promise((resolve) => setTimeout(resolve, 600));
        await other.query('ROLLBACK');
        expect(await pending).toMatchObject({ sqlState: 'CL005' });
      } finally {
        await other.end();
      }
      expect(await transactions()).toBe(before);
      expect(await balance()).toBe(credited);
      // within its bound the same call goes through
      await boundedCall('300 milliseconds');
      expect(await transactions()).toBe(before + 1);
    });
  });

  describe('through the ledger API', () => {
    const transfer = (from: string, to: string, amount: string) =>
      t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set(key())
        .send({
          type: 'transfer',
          postings: [
            { account: from, asset: 'POINTS', debit: amount },
            { account: to, asset: 'POINTS', credit: amount },
          ],
        });

    it('unbalanced at the door: 400, nothing written', async () => {
      const boris = resident();
      const spy = unbalanceNext();
      expectProblem(await transfer('programme:issued', `resident:${boris}`, '10'), 400, 'validation_failed');
      expect(spy).toHaveBeenCalledTimes(1);
      expect(await postingsOf(boris)).toBe(0);
    });

    it('overdrawing at the door: 409 insufficient_points, nothing written', async () => {
      const boris = resident();
      await grant(boris, '10');
      const spy = swapNext();
      expectProblem(await transfer('programme:issued', `resident:${boris}`, '11'), 409, 'insufficient_points');
      expect(spy).toHaveBeenCalledTimes(1);
      expect(await postingsOf(boris)).toBe(1);
    });
  });

  describe('through adjustments', () => {
    it('unbalanced at the door: 400; overdrawing: 409; nothing written', async () => {
      const vera = resident();
      await grant(vera, '10');
      unbalanceNext();
      expectProblem(
        await t.http.post('/v1/admin/adjustments').set(t.admin).set(key()).send({ residentId: vera, amount: '5', reason: 'unbalanced' }),
        400,
        'validation_failed',
      );
      swapNext();
      expectProblem(
        await t.http.post('/v1/admin/adjustments').set(t.admin).set(key()).send({ residentId: vera, amount: '11', reason: 'swapped' }),
        409,
        'insufficient_points',
      );
      expect(await postingsOf(vera)).toBe(1);
    });
  });

  describe('through the general redemption path', () => {
    it('unbalanced at the door: refused; overdrawing: insufficient_points; nothing written', async () => {
      const gleb = resident();
      await grant(gleb, '100');
      const redemptions = t.app.get(RedemptionService);
      unbalanceNext();
      await expect(redemptions.redeem(gleb, 'door-item', 1)).rejects.toMatchObject({ code: 'validation_failed' });
      await grant(gleb, '-60');
      await expect(redemptions.redeem(gleb, 'door-item', 1)).rejects.toMatchObject({ code: 'insufficient_points' });
      expect(await postingsOf(gleb)).toBe(2);
      expect(await t.prisma.redemption.count({ where: { residentId: gleb } })).toBe(0);
    });
  });

  describe('through the one-statement redemption (catalogue_redeem)', () => {
    const oneStatement = async (residentId: string, quantity: number) => {
      const account = await repository.findAccount(`resident:${residentId}`, 'POINTS');
      return t.app.get(RedemptionRepository).redeemInOneStatement({
        scope: `resident:${residentId}`,
        key: randomUUID(),
        hash: 'h'.repeat(64),
        redemptionId: randomUUID(),
        transactionId: randomUUID(),
        residentId,
        residentAccountId: account!.id,
        itemId: 'door-item',
        quantity,
        generatedCodes: Array.from({ length: Math.max(quantity, 1) }, () => `DOOR${randomUUID().slice(0, 8)}`),
      });
    };

    it('overdrawing: the door refuses, the statement rolls back for the general path, nothing written', async () => {
      const dina = resident();
      await grant(dina, '40');
      expect(await oneStatement(dina, 1)).toBeNull();
      expect(await postingsOf(dina)).toBe(1);
      expect(await t.prisma.idempotencyKey.count({ where: { scope: `resident:${dina}` } })).toBe(0);
    });

    it('postings that are not a transaction (an amount of zero): the door refuses, nothing written', async () => {
      const dina = resident();
      await grant(dina, '400');
      await expect(oneStatement(dina, 0)).rejects.toMatchObject({ code: 'CL002' });
      expect(await postingsOf(dina)).toBe(1);
      expect(await t.prisma.redemption.count({ where: { residentId: dina } })).toBe(0);
      expect(await oneStatement(dina, 2)).toMatchObject({ outcome: 'new', redemption: { balanceAfter: new Decimal(300) } });
    });
  });

  describe('through the earn batch', () => {
    const accept = async (residentId: string) => {
      const e = { externalId: randomUUID(), type: 'door.vote', residentId, occurredAt: new Date().toISOString() };
      await t.http
        .post('/v1/earn-events')
        .set(sourceKey)
        .send({ events: [e] })
        .expect(202);
      return e.externalId;
    };
    const status = async (externalId: string) => (await t.http.get(`/v1/earn-events/${externalId}`).set(sourceKey).expect(200)).body.status;

    it.each([
      ['unbalanced', unbalanceNext],
      ['overdrawing (the accrual swapped into a debit of the resident)', swapNext],
    ])('%s at the door: the batch is refused whole and stays to be processed again', async (_, alter) => {
      const ira = resident();
      const spy = alter();
      const id = await accept(ira);
      await waitFor(
        async () =>
          spy.mock.results.length > 0 &&
          (await spy.mock.results[0].value.then(
            () => false,
            () => true,
          )),
        20_000,
        'the batch refused',
      );
      expect(await status(id)).toBe('received');
      expect(await postingsOf(ira)).toBe(0);
      jest.restoreAllMocks();
      await t.app.get(EarnProcessor).processStale(new Date(Date.now() + 60_000), 100);
      expect(await status(id)).toBe('posted');
      expect(await postingsOf(ira)).toBe(1);
    });
  });
});
