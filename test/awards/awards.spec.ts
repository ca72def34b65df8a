import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { awardTransactionId } from '../../src/awards/domain/award';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { runCli } from '../support/cli';
import { ledgerViolations } from '../support/ledger-invariants';
import { assertTestDatabase } from '../support/services';
import { waitFor } from '../support/wait';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const ROWS = 100_000;

/** A resident who owes `points` (revoke-style debt, straight through the ledger API). */
async function owes(t: TestApp, resident: string, points: string): Promise<void> {
  await t.http
    .post('/v1/ledger/transactions')
    .set(t.admin)
    .set('Idempotency-Key', randomUUID())
    .send({
      type: 'test.debt',
      postings: [
        { account: `resident:${resident}:debt`, asset: 'POINTS', debit: points },
        { account: 'programme:issued', asset: 'POINTS', credit: points },
      ],
    })
    .expect(201);
}

/**
 * Bulk awards at prize-day scale: 100,000 lines with 1% bad ones, validated and stored on upload
 * (nothing credited), then credited exactly once, even when the process executing it is killed
 * mid-way and another one resumes it.
 */
describe('bulk awards', () => {
  let t: TestApp;
  const residents = 20_000;

  beforeAll(async () => {
    // webhooks to this machine are allowed: the test's receiver address refuses at once
    t = await startTestApp({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      AWARD_UPLOAD_LIMIT: '2mb',
      AWARD_LEASE_SECONDS: '2',
      AWARD_SWEEP_SECONDS: '3600',
      AWARD_CHUNK_ROWS: '2000',
    });
  });

  afterAll(() => t.close(), 120_000);

  const upload = (query: string, csv: string) =>
    t.http.post(`/v1/admin/awards?${query}`).set(t.admin).set('Content-Type', 'text/csv').send(csv);
  const awardOf = async (id: string) => (await t.http.get(`/v1/admin/awards/${id}`).set(t.admin).expect(200)).body;
  const awardTransactions = async (id: string) =>
    (
      await t.prisma.$queryRawUnsafe<{ n: number; distinct_rows: number }[]>(
        `SELECT count(*)::int AS n, count(DISTINCT (metadata->>'line'))::int AS distinct_rows
         FROM ledger_transactions WHERE type = 'award' AND metadata->>'awardId' = $1`,
        id,
      )
    )[0];
  const balancesOf = async (prefix: string) =>
    (
      await t.prisma.$queryRawUnsafe<{ total: string | null; accounts: number }[]>(
        `SELECT sum(b.credits_posted - b.debits_posted)::text AS total, count(DISTINCT a.id)::int AS accounts
         FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
         WHERE starts_with(a.code, $1) AND right(a.code, 5) <> ':debt'`,
        `resident:${prefix}`,
      )
    )[0];

  it('a 100,000-line award with 1% bad lines: counts, error file, then every valid row credited once across a killed worker', async () => {
    // a webhook for award.completed: the outbox row is what this test checks (nothing listens at the address)
    await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: 'http://127.0.0.1:9/hooks', events: ['award.completed'] })
      .expect(201);
    const lines = ['residentId,points,reference'];
    const bad: Record<string, number> = {};
    let expectedTotal = 0;
    const perResident = new Map<string, number>();
    for (let i = 0; i < ROWS; i++) {
      const resident = `big${i % residents}`;
      const reference = `t${Math.floor(i / residents)}`;
      const points = 1 + (i % 7);
      if (i % 100 === 17) {
        // 1% bad lines of every kind
        const kind = (['negative', 'fraction', 'zero', 'bad_id', 'duplicate', 'columns', 'quote', 'word', 'huge', 'empty_id'] as const)[
          Math.floor(i / 100) % 10
        ];
        bad[kind] = (bad[kind] ?? 0) + 1;
        lines.push(
          {
            negative: `${resident},-5,${reference}`,
            fraction: `${resident},2.5,${reference}`,
            zero: `${resident},0,${reference}`,
            bad_id: `bad id ${i},5,${reference}`,
            // the same resident and reference as the line before: refused as a duplicate
            duplicate: `big${(i - 1) % residents},5,t${Math.floor((i - 1) / residents)}`,
            columns: `${resident},5,${reference},extra`,
            quote: `${resident},"5,${reference}`,
            word: `${resident},five,${reference}`,
            huge: `${resident},99999999999,${reference}`,
            empty_id: `,5,${reference}`,
          }[kind],
        );
        continue;
      }
      lines.push(`${resident},${points},${reference}`);
      expectedTotal += points;
      perResident.set(resident, (perResident.get(resident) ?? 0) + points);
    }
    const csv = `${lines.join('\n')}\n`;

    const started = Date.now();
    const res = await upload('description=Prize%20day%202026', csv).expect(202);
    console.log(`award upload of ${ROWS} lines (${(csv.length / 1048576).toFixed(1)} MB): ${Date.now() - started} ms`);
    expect(res.body).toMatchObject({
      status: 'ready',
      rows: ROWS,
      valid: ROWS - ROWS / 100,
      invalid: ROWS / 100,
      totalPoints: String(expectedTotal),
      credited: 0,
      warnings: [],
    });
    const id: string = res.body.id;
    // nothing credited until execute
    expect(await awardTransactions(id)).toEqual({ n: 0, distinct_rows: 0 });

    // the error file: one line per refused line, with its reason, in line order
    const errors = await t.http.get(`/v1/admin/awards/${id}/errors`).set(t.admin).expect(200);
    expect(errors.headers['content-type']).toMatch(/^text\/csv/);
    const records = parse<{ line: string; residentId: string; reason: string; detail: string }>(errors.text, { columns: true });
    expect(records).toHaveLength(ROWS / 100);
    const reasons = records.reduce<Record<string, number>>((n, r) => ({ ...n, [r.reason]: (n[r.reason] ?? 0) + 1 }), {});
    expect(reasons).toEqual({
      invalid_points: bad.negative + bad.fraction + bad.zero + bad.word + bad.huge,
      invalid_resident_id: bad.bad_id + bad.empty_id,
      duplicate_row: bad.duplicate,
      malformed_line: bad.columns + bad.quote,
    });
    // line numbers count the header: the file's first bad line is line 19 (index 17, after the header)
    expect(records[0]).toMatchObject({ line: '19', reason: 'invalid_points' });
    expect(records.map((r) => Number(r.line))).toEqual([...records.map((r) => Number(r.line))].sort((a, b) => a - b));

    // executing, in a CLI process of its own, killed mid-way
    const child = spawnCli(t.databaseUrl, 'award', '--id', id, '--execute');
    let killedAt: number;
    try {
      killedAt = await waitFor(
        async () => {
          const a = await awardOf(id);
          return a.credited >= 10_000 && a.credited;
        },
        150_000,
        'the CLI to credit part of the award',
      );
    } finally {
      child.kill('SIGKILL');
    }
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    // a chunk the CLI had sent is still run and committed by its server process, which learns
    // that its client is gone only afterwards: read once every one of them has ended
    await waitFor(
      async () =>
        (
          await t.prisma.$queryRawUnsafe<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
            CLI_APPLICATION,
          )
        )[0].n === 0,
      30_000,
      "the killed CLI's database sessions to end",
    );
    const halfway = await awardOf(id);
    expect(halfway.status).toBe('running');
    expect(halfway.credited).toBeGreaterThanOrEqual(killedAt);
    expect(halfway.credited).toBeLessThan(ROWS - ROWS / 100);
    // what was committed was credited exactly once, so far
    expect(await awardTransactions(id)).toEqual({ n: halfway.credited, distinct_rows: halfway.credited });

    // another process (the service) executes it again: it goes on from the last committed chunk
    const again = await t.http.post(`/v1/admin/awards/${id}/execute`).set(t.admin).expect(202);
    expect(again.body.status).toBe('running');
    const done = await waitFor(
      async () => {
        const a = await awardOf(id);
        return a.status === 'done' && a;
      },
      90_000,
      'the award to finish',
    );
    expect(done).toMatchObject({ credited: ROWS - ROWS / 100, failed: 0, creditedPoints: String(expectedTotal) });
    console.log(`award of ${ROWS - ROWS / 100} credits done ${Date.now() - started} ms after its upload began`);

    // each valid row exactly once, in the journal and in the balances
    expect(await awardTransactions(id)).toEqual({ n: ROWS - ROWS / 100, distinct_rows: ROWS - ROWS / 100 });
    // (the 200 residents all of whose lines were bad have no account)
    expect(await balancesOf('big')).toEqual({ total: String(expectedTotal), accounts: perResident.size });
    const oneResident = await t.http.get('/v1/me/balance').set(t.residentAuth('big1')).expect(200);
    expect(oneResident.body.available).toBe(String(perResident.get('big1')));
    const history = await t.http.get('/v1/me/history?limit=1').set(t.residentAuth('big1')).expect(200);
    expect(history.body.items[0]).toMatchObject({ type: 'award', description: 'Prize: Prize day 2026' });

    // a second execute credits nothing more
    expectProblem(await t.http.post(`/v1/admin/awards/${id}/execute`).set(t.admin), 409, 'invalid_state');
    expect(await awardTransactions(id)).toEqual({ n: ROWS - ROWS / 100, distinct_rows: ROWS - ROWS / 100 });

    // award.completed, once, through the outbox
    // (expanded from the outbox's staged row after commit, by the drain)
    const events = await waitFor(
      async () => {
        const found = await t.prisma.webhookEvent.findMany({ where: { type: 'award.completed' } });
        return found.length > 0 && (await t.prisma.webhookOutbox.count()) === 0 && found;
      },
      10_000,
      'award.completed',
    );
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ id, rows: ROWS, credited: ROWS - ROWS / 100, failed: 0, totalPoints: String(expectedTotal) });

    // listed, newest first (the next page goes on from the cursor)
    const list = await t.http.get('/v1/admin/awards?limit=1').set(t.admin).expect(200);
    expect(list.body.items[0].id).toBe(id);
    expect(list.body.nextCursor).toBeNull();

    expect(await ledgerViolations(t.prisma)).toEqual([]);
  }, 360_000);

  it('the same rows and description again: accepted, with a warning naming the earlier award', async () => {
    const first = await upload('description=Repeat', 'rep1,5,a\nrep2,6\n').expect(202);
    expect(first.body.warnings).toEqual([]);
    // the same lines, quoted and with a header this time: the same rows
    const again = await upload('description=Repeat', 'residentId,points,reference\n"rep1","5","a"\nrep2,6\n').expect(202);
    expect(again.body.warnings).toEqual([expect.objectContaining({ code: 'possible_duplicate', awardId: first.body.id })]);
    expect((await awardOf(again.body.id)).warnings).toEqual(again.body.warnings);
    // another description is another award
    expect((await upload('description=Repeat%202', 'rep1,5,a\nrep2,6\n').expect(202)).body.warnings).toEqual([]);
    const list = await t.http.get('/v1/admin/awards?limit=2').set(t.admin).expect(200);
    const next = await t.http.get(`/v1/admin/awards?limit=2&cursor=${list.body.nextCursor}`).set(t.admin).expect(200);
    expect([...list.body.items, ...next.body.items].map((a: { id: string }) => a.id).slice(1, 3)).toEqual([again.body.id, first.body.id]);
  });

  it('a resident in debt has the debt paid first', async () => {
    await owes(t, 'debtor', '40');
    const res = await upload('description=Debt%20first', 'debtor,25,a\ndebtor,25,b\n').expect(202);
    await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await awardOf(res.body.id)).status === 'done', 20_000, 'the award');
    const balance = await t.http.get('/v1/me/balance').set(t.residentAuth('debtor')).expect(200);
    expect(balance.body).toMatchObject({ available: '10', debt: '0' });
  });

  it('refuses to execute an award over its budget, and credits nothing', async () => {
    const res = await upload('description=Budgeted&budget=100', 'bud1,60\nbud2,50\n').expect(202);
    expect(res.body).toMatchObject({ totalPoints: '110', budget: '100', warnings: [expect.objectContaining({ code: 'over_budget' })] });
    expectProblem(await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin), 409, 'limit_exceeded');
    expect(await awardOf(res.body.id)).toMatchObject({ status: 'ready', credited: 0 });
    expect(await awardTransactions(res.body.id)).toEqual({ n: 0, distinct_rows: 0 });
    const within = await upload('description=Budgeted&budget=110', 'bud1,60\nbud2,50\n').expect(202);
    await t.http.post(`/v1/admin/awards/${within.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await awardOf(within.body.id)).status === 'done', 20_000, 'the award');
  });

  it('takes JSON rows too, refusing bad rows line by line and a bad body as a whole', async () => {
    const res = await t.http
      .post('/v1/admin/awards?description=JSON%20award')
      .set(t.admin)
      .send({
        rows: [
          { residentId: 'json1', points: '10' },
          { residentId: 'json2', points: 5 },
          { residentId: 'json1', points: '3', reference: 'x' },
        ],
      })
      .expect(202);
    expect(res.body).toMatchObject({ rows: 3, valid: 2, invalid: 1, totalPoints: '13' });
    const errors = await t.http.get(`/v1/admin/awards/${res.body.id}/errors`).set(t.admin).expect(200);
    expect(errors.text.trim().split('\n')).toEqual([
      'line,residentId,points,reference,reason,detail',
      expect.stringMatching(/^2,json2,5,,invalid_points,/),
    ]);
    const before = await t.prisma.award.count();
    expectProblem(await t.http.post('/v1/admin/awards?description=x').set(t.admin).send({ rows: [] }), 400, 'validation_failed');
    expectProblem(
      await t.http
        .post('/v1/admin/awards?description=x')
        .set(t.admin)
        .send({ rows: [{}], more: 1 }),
      400,
      'validation_failed',
    );
    expectProblem(
      await t.http
        .post('/v1/admin/awards')
        .set(t.admin)
        .send({ rows: [{ residentId: 'a', points: '1' }] }),
      400,
      'validation_failed',
    );
    expectProblem(
      await t.http
        .post(`/v1/admin/awards?description=x&expiresAt=${new Date(Date.now() - 1000).toISOString()}`)
        .set(t.admin)
        .send({ rows: [{ residentId: 'a', points: '1' }] }),
      400,
      'validation_failed',
    );
    expectProblem(await upload('description=x&budget=1.5', 'a,1\n'), 400, 'validation_failed');
    expectProblem(await upload('description=x', '\n\n'), 400, 'validation_failed');
    expectProblem(
      await t.http.post('/v1/admin/awards?description=x').set(t.admin).set('Content-Type', 'application/xml').send('<a/>'),
      415,
      'unsupported_media_type',
    );
    // bad input changes nothing: no award is left behind
    expect(await t.prisma.award.count()).toBe(before);
  });

  it('an upload over the limit is refused with 413 and leaves nothing behind', async () => {
    const before = await t.prisma.award.count();
    const line = 'toolarge-resident-0001,1000,a-reference-that-makes-the-line-longer\n';
    const csv = Array.from({ length: Math.ceil((2.5 * 1048576) / line.length) }, (_, i) => line.replace('0001', String(i))).join('');
    expectProblem(await upload('description=Too%20large', csv), 413, 'payload_too_large');
    await waitFor(async () => (await t.prisma.award.count()) === before, 10_000, 'the refused upload to be removed');
    expect(await t.prisma.awardRow.count({ where: { residentId: { startsWith: 'toolarge' } } })).toBe(0);
  });

  it('refuses to execute an award while its upload is still validating', async () => {
    const url = new URL((await t.app.getUrl()).replace('[::1]', '127.0.0.1'));
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/v1/admin/awards?description=Slow%20upload',
      headers: { ...t.admin, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' },
    });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    req.write(Array.from({ length: 6000 }, (_, i) => `slow${i},1`).join('\n') + '\n');
    const validating = await waitFor(
      async () => {
        const list = await t.http.get('/v1/admin/awards?limit=5').set(t.admin).expect(200);
        return list.body.items.find(
          (a: { description: string; status: string }) => a.description === 'Slow upload' && a.status === 'validating',
        );
      },
      10_000,
      'the upload to be validating',
    );
    expectProblem(await t.http.post(`/v1/admin/awards/${validating.id}/execute`).set(t.admin), 409, 'invalid_state');
    req.end('slow-last,1\n');
    const done = await answer;
    expect(done.status).toBe(202);
    expect(JSON.parse(done.body)).toMatchObject({ id: validating.id, status: 'ready', valid: 6001 });
    expect(await awardTransactions(validating.id)).toEqual({ n: 0, distinct_rows: 0 });
  });

  it('passes the award’s expiresAt to each credit as the expiry of the lot it makes', async () => {
    const expiresAt = new Date(Date.now() + 90 * 86_400_000);
    const res = await upload(`description=Expiring&expiresAt=${encodeURIComponent(expiresAt.toISOString())}`, 'exp1,5\nexp2,6\n').expect(
      202,
    );
    expect(res.body.expiresAt).toBe(expiresAt.toISOString());
    await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await awardOf(res.body.id)).status === 'done', 20_000, 'the award');
    const lots = await t.prisma.$queryRawUnsafe<{ code: string; amount: string; expires_at: Date }[]>(
      `SELECT a.code, l.amount::text AS amount, l.expires_at FROM ledger_lots l
       JOIN ledger_transactions x ON x.id = l.transaction_id JOIN ledger_accounts a ON a.id = l.account_id
       WHERE x.type = 'award' AND x.metadata->>'awardId' = $1 ORDER BY a.code`,
      res.body.id,
    );
    expect(lots.map((l) => ({ ...l, expires_at: l.expires_at.toISOString() }))).toEqual([
      { code: 'resident:exp1', amount: '5', expires_at: expiresAt.toISOString() },
      { code: 'resident:exp2', amount: '6', expires_at: expiresAt.toISOString() },
    ]);
  });

  it('a chunk with a resident in debt credits every row of it by the accrual rule, the others as in any chunk', async () => {
    await owes(t, 'owes2', '7');
    const res = await upload('description=Mixed%20chunk', 'clear1,5\nowes2,10\nclear3,6,r\n').expect(202);
    await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await awardOf(res.body.id)).status === 'done', 20_000, 'the award');
    expect(await awardOf(res.body.id)).toMatchObject({ credited: 3, failed: 0, creditedPoints: '21' });
    const owing = await t.http.get('/v1/me/balance').set(t.residentAuth('owes2')).expect(200);
    expect(owing.body).toMatchObject({ available: '3', debt: '0' });
    const clear = await t.http.get('/v1/me/balance').set(t.residentAuth('clear3')).expect(200);
    expect(clear.body).toMatchObject({ available: '6', debt: '0' });
  });

  it('names each credit as the service does: award_transaction_id in SQL is awardTransactionId', async () => {
    const award = randomUUID();
    for (const line of [1, 2, 255, 256, 65_536, 1_000_000, 2_147_483_647]) {
      const [row] = await t.prisma.$queryRawUnsafe<{ id: string }[]>(
        'SELECT award_transaction_id($1::uuid, $2::int)::text AS id',
        award,
        line,
      );
      expect(row.id).toBe(awardTransactionId(award, line));
    }
    // a credited row's transaction is the one its row names, whichever path credited it
    const res = await upload('description=Named', 'named1,3,x\n').expect(202);
    await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await awardOf(res.body.id)).status === 'done', 20_000, 'the award');
    const [credited] = await t.prisma.$queryRawUnsafe<{ transaction_id: string; metadata: Record<string, unknown> }[]>(
      `SELECT r.transaction_id::text, x.metadata FROM award_rows r JOIN ledger_transactions x ON x.id = r.transaction_id
       WHERE r.award_id = $1::uuid`,
      res.body.id,
    );
    expect(credited.transaction_id).toBe(awardTransactionId(res.body.id, 1));
    expect(credited.metadata).toEqual({ awardId: res.body.id, line: 1, reference: 'x' });
  });

  it('the CLI uploads a file and executes it with its progress, as the API does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'civic-award-'));
    try {
      const file = join(dir, 'winners.csv');
      writeFileSync(file, 'residentId,points,reference\ncli1,100,a\ncli2,200,a\ncli1,50,b\ncli3,-1,a\n');
      const { status, stdout, stderr } = await runCli(
        t.databaseUrl,
        ['award', '--file', file, '--description', 'CLI prize', '--budget', '1000', '--execute'],
        'error',
      );
      expect(`${stdout}\n${stderr}`).toMatch(/4 row\(s\), 3 valid, 1 refused, 350 points/);
      expect(stdout).toMatch(/done, 3 row\(s\) credited \(350 points\), 0 failed/);
      expect(status).toBe(0);
      const balance = await t.http.get('/v1/me/balance').set(t.residentAuth('cli1')).expect(200);
      expect(balance.body.available).toBe('150');
      const over = await runCli(
        t.databaseUrl,
        ['award', '--file', file, '--description', 'CLI prize 2', '--budget', '100', '--execute'],
        'error',
      );
      expect(over.status).toBe(1);
      expect(over.stderr).toMatch(/limit_exceeded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 404 for an unknown award and 400 for an id that is not one', async () => {
    expectProblem(await t.http.get(`/v1/admin/awards/${randomUUID()}`).set(t.admin), 404, 'not_found');
    expectProblem(await t.http.get(`/v1/admin/awards/${randomUUID()}/errors`).set(t.admin), 404, 'not_found');
    expectProblem(await t.http.post(`/v1/admin/awards/${randomUUID()}/execute`).set(t.admin), 404, 'not_found');
    expectProblem(await t.http.get('/v1/admin/awards/nope').set(t.admin), 400, 'validation_failed');
  });
});

/**
 * A debtor's rows in chunks credited at once: chunks of one row and two lanes, so that two
 * chunks of the same debtor are open together (each handed back by award_credit_chunk, which
 * leaves a debtor's chunk to the service).
 */
describe('bulk awards, a debtor’s rows in chunks credited at once', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ AWARD_CHUNK_ROWS: '1', AWARD_CONCURRENCY: '2', AWARD_SWEEP_SECONDS: '3600' });
  });

  afterAll(() => t.close(), 120_000);

  it('pay the debt once between them: each reads it as the other left it', async () => {
    await owes(t, 'split', '40');
    const res = await t.http
      .post('/v1/admin/awards?description=Split%20debt')
      .set(t.admin)
      .set('Content-Type', 'text/csv')
      .send('split,25,a\nsplit,25,b\nsplit,25,c\nsplit,25,d\n')
      .expect(202);
    await t.http.post(`/v1/admin/awards/${res.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(
      async () => (await t.http.get(`/v1/admin/awards/${res.body.id}`).set(t.admin).expect(200)).body.status === 'done',
      20_000,
      'the award',
    );
    expect((await t.http.get(`/v1/admin/awards/${res.body.id}`).set(t.admin).expect(200)).body).toMatchObject({
      credited: 4,
      failed: 0,
      creditedPoints: '100',
    });
    const balance = await t.http.get('/v1/me/balance').set(t.residentAuth('split')).expect(200);
    expect(balance.body).toMatchObject({ available: '60', debt: '0' });
  });
});

/** The CLI's database sessions name themselves so (the test waits for a killed CLI's to end). */
const CLI_APPLICATION = 'civic-award-cli-test';

function spawnCli(databaseUrl: string, ...args: string[]): ChildProcess {
  assertTestDatabase(databaseUrl);
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', CLI_APPLICATION);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, DATABASE_URL: url.toString(), LOG_LEVEL: 'error', AWARD_LEASE_SECONDS: '2', AWARD_CHUNK_ROWS: '2000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (d) => process.stderr.write(`[cli] ${d}`));
  return child;
}
