import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SealService } from '../../src/audit/seal.service';
import { startTestApp, TestApp } from '../support/app';
import { runCli } from '../support/cli';

describe('the command-line tool', () => {
  let t: TestApp;
  let dir: string;
  let run: (...args: string[]) => ReturnType<typeof runCli>;
  const since = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    t = await startTestApp();
    run = (...args) => runCli(t.databaseUrl, args);
    dir = mkdtempSync(join(tmpdir(), 'civic-cli-'));
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'coffee-chain', name: 'Coffee Chain', kind: 'cafe' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'coffee-20',
        kind: 'PROMO_CODE',
        title: '20% off coffee',
        partnerId: 'coffee-chain',
        pricePoints: '100',
        codeSource: 'POOL',
      })
      .expect(201);
    for (const [amount, reason] of [
      ['500', 'welcome'],
      ['-120', 'correction'],
    ]) {
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', `adj-${reason}`)
        .send({ residentId: 'anna', amount, reason })
        .expect(201);
    }
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('creates an API client whose key the service accepts at once', async () => {
    const res = await run('create-api-client', '--name', 'till 1', '--role', 'partner', '--partner', 'coffee-chain');
    expect(res.status).toBe(0);
    const key = /key \(shown once, stored only as a hash\): (\S+)/.exec(res.stdout)![1];
    expect(res.stdout).toMatch(/\(partner of partner coffee-chain\): till 1/);
    const answer = await t.http.get('/v1/partner/codes/NO-SUCH-CODE').set('X-API-Key', key);
    expect(answer.status).toBe(404);
  });

  it('refuses a client without the binding its role needs, and an unknown role, saying why', async () => {
    const unbound = await run('create-api-client', '--name', 'x', '--role', 'source');
    expect(unbound.status).toBe(1);
    expect(unbound.stderr).toContain('validation_failed: sourceId is required for a source key');
    const odd = await run('create-api-client', '--name', 'x', '--role', 'owner');
    expect(odd.status).toBe(1);
    expect(odd.stderr).toMatch(/Allowed choices are source, partner, auditor, admin/);
  });

  it('imports a file of codes into a pool, skipping duplicates', async () => {
    const file = join(dir, 'codes.csv');
    writeFileSync(file, 'CAFE-0001\nCAFE-0002\n\nCAFE-0001\nCAFE-0003,batch 7\n');
    const res = await run('import-codes', '--item', 'coffee-20', '--file', file);
    expect(res).toMatchObject({ status: 0 });
    expect(res.stdout).toContain('3 code(s) added to coffee-20, 1 duplicate(s) skipped');
    const catalogue = await t.http.get('/v1/catalogue').expect(200);
    expect(catalogue.body.items.find((i: { id: string }) => i.id === 'coffee-20').available).toBe(3);

    const unknown = await run('import-codes', '--item', 'tea-10', '--file', file);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('not_found');
  });

  it('exports a statement as JSON to stdout and as CSV to a file', async () => {
    const json = await run('export-statement', '--account', 'resident:anna', '--from', since);
    expect(json.status).toBe(0);
    const statement = JSON.parse(json.stdout);
    expect(statement).toMatchObject({ account: 'resident:anna', asset: 'POINTS', openingBalance: '0', closingBalance: '380' });
    expect(
      statement.entries.map((e: { credit?: string; debit?: string; balance: string }) => [e.credit ?? `-${e.debit}`, e.balance]),
    ).toEqual([
      ['500', '500'],
      ['-120', '380'],
    ]);

    const out = join(dir, 'anna.csv');
    const csv = await run(
      'export-statement',
      '--account',
      'resident:anna',
      '--from',
      since,
      '--to',
      new Date().toISOString(),
      '--csv',
      '--out',
      out,
    );
    expect(csv.status).toBe(0);
    expect(csv.stdout).toContain('2 entries, opening 0, closing 380');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('createdAt,transactionId,type,description,debit,credit,balance');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/closing balance,,,,380$/);

    const bad = await run('export-statement', '--account', 'resident:anna', '--from', 'yesterday');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('not an RFC 3339 date');
  });

  it('reconciles the books and verifies the seals; a forged seal exits 2', async () => {
    const reconcile = await run('reconcile');
    expect(reconcile.stderr).toBe('');
    expect(reconcile.status).toBe(0);
    expect(reconcile.stdout).toMatch(/^reconciliation [0-9a-f-]{36}: passed \(13 checks/);
    expect(reconcile.stdout).toContain('ok     seal_chain_intact');

    await new Promise((r) => setTimeout(r, 20));
    await t.app.get(SealService).seal(new Date());
    const seals = await run('verify-seals');
    expect(seals.status).toBe(0);
    expect(seals.stdout).toMatch(/^seals 1 to 1 \(up to .+\): every root and hash recomputes/);

    const forge = (sql: string) =>
      t.prisma.$transaction([
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_seals DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(sql),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_seals ENABLE TRIGGER USER'),
      ]);
    await forge(`UPDATE ledger_seals SET merkle_root = repeat('0', 64) WHERE id = 1`);
    const broken = await run('verify-seals');
    expect(broken.status).toBe(2);
    expect(broken.stdout).toContain('BROKEN seal 1');
    const failed = await run('reconcile');
    expect(failed.status).toBe(2);
    expect(failed.stdout).toMatch(/: failed \(/);
    expect(failed.stdout).toContain('FAILED seal_chain_intact');
  });
});
