import { randomUUID } from 'node:crypto';
import { SealService } from '../../src/audit/seal.service';
import { DailyTotalsRepository, hourOf } from '../../src/ledger/daily-totals.repository';
import { LedgerReadService } from '../../src/ledger/ledger-read.service';
import { addDays, calendarDayOf, calendarDayStart } from '../../src/ledger/domain/calendar-day';
import { localMomentOf } from '../../src/pages/finance/moment';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';
import { baseOf, PageClient, signInWithKey } from './support';

/** The number in a cell as the page writes it (ru-RU: "1 234", a minus sign), back to a decimal string. */
const numberOf = (text: string) =>
  text
    .replace(/[\s\u00a0\u202f]/g, '')
    .replace('\u2212', '-')
    .replace(',', '.');
const cells = (html: string, attr: string, value: string) =>
  new RegExp(`<tr ${attr}="${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>(.*?)</tr>`, 's').exec(html)?.[1] ?? '';
const colOf = (row: string, col: string) => numberOf(new RegExp(`data-col="${col}">([^<]*)<`).exec(row)?.[1] ?? '');

/**
 * The finance console over HTTP: its numbers are the audit API's (the trial balance at a past
 * moment, a statement and its CSV byte for byte), the overview's daily figures match the journal
 * and are kept once per closed day, a transaction is traced to its cause and seal, and only an
 * admin's form may start a reconciliation.
 */
describe('the finance console', () => {
  let t: TestApp;
  let base: string;
  let auditor: PageClient;
  let admin: PageClient;
  let auditorKey = '';
  let redemption: { id: string; code: string; transactionId: string } = { id: '', code: '', transactionId: '' };
  let between = new Date();
  const key = () => ({ 'Idempotency-Key': randomUUID() });

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_PER_MINUTE: '10000', LOG_LEVEL: process.env.DEBUG_LOG ? 'error' : undefined });
    base = await baseOf(t);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'museum', name: 'Городской <b>музей</b>', kind: 'museum' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'fund', name: 'Фонд', kind: 'charity' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'ticket', kind: 'TICKET', title: 'Ночь в музее', partnerId: 'museum', pricePoints: '300', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'give', kind: 'DONATION', title: 'Помочь', partnerId: 'fund', minPoints: '1', maxPoints: '1000' })
      .expect(201);
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      .send({ residentId: 'anna', amount: '1250', reason: 'welcome' })
      .expect(201);
    await new Promise((r) => setTimeout(r, 1100));
    between = new Date(Math.floor(Date.now() / 1000) * 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const r = (await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'ticket' }).expect(201)).body;
    await t.http.post('/v1/me/donations').set(t.residentAuth('anna')).set(key()).send({ itemId: 'give', amount: '25' }).expect(201);
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      // with an expiry: the liability has a month of expiry to show
      .send({
        residentId: 'boris',
        amount: '40',
        reason: 'Ошибка <кассы>',
        expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      })
      .expect(201);
    const journal = (await t.http.get('/v1/audit/transactions?type=redeem').set(t.admin).expect(200)).body.items;
    redemption = { id: r.id, code: r.codes[0].code, transactionId: journal[0].id };
    await t.app.get(SealService).seal(new Date(Date.now() + 1000));
    auditorKey = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'Auditor', role: 'auditor' }).expect(201)).body
      .apiKey;
    auditor = await signInWithKey(base, auditorKey);
    admin = await signInWithKey(base, t.config.adminApiKey!);
  });

  afterAll(() => t.close());

  it('the overview shows the period’s figures per day, the same as the journal’s, with the charts’ data and the latest reconciliation', async () => {
    const res = await auditor.get('/app/finance');
    expect(res.status).toBe(200);
    const today = calendarDayOf(new Date());
    const row = cells(res.text, 'data-day', today);
    const series = (k: string) => numberOf(new RegExp(`data-series="${k}">([^<]*)<`).exec(row)?.[1] ?? 'missing');
    // 1250 + 40 credited by adjustments (issued, as the liability report counts it), 300 redeemed, 25 donated, nothing expired
    const figures = { issued: series('issued'), redeemed: series('redeemed'), donated: series('donated'), expired: series('expired') };
    expect(figures).toEqual({ issued: '1290', redeemed: '300', donated: '25', expired: '0' });
    // everything happened today: the day's figures are the liability report's totals
    const liability = (await t.http.get('/v1/audit/liability').set(t.admin).expect(200)).body;
    expect(figures).toEqual({
      issued: liability.issued,
      redeemed: liability.redeemed,
      donated: liability.donated,
      expired: liability.expired,
    });
    expect(numberOf(/data-total="closingLiability">([^<]*)</.exec(res.text)![1])).toBe('965');
    // the period's liability ends where the ledger's outstanding points are
    const stats = (await t.http.get('/v1/public/stats').expect(200)).body;
    expect(stats.outstanding).toBe('965');
    // two charts: four series and one, their data in an attribute (no inline script), drawn by our script
    expect(res.text).toContain('data-chart-name="movements"');
    expect(res.text).toContain('data-chart-name="liability"');
    expect(res.text).not.toMatch(/<script(?![^>]*src=)/);
    expect(res.text).toContain('src="/app/assets/uPlot.iife.min.js"');
    const chart = JSON.parse(
      /data-chart-name="movements"[^>]*data-chart="([^"]*)"/
        .exec(res.text)![1]
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>'),
    );
    expect(chart.series.map((s: { label: string }) => s.label)).toEqual(['Начислено', 'Обменено у партнёров', 'Пожертвовано', 'Сгорело']);
    expect(chart.x).toHaveLength(30);
    // by partner and by fund, names escaped
    expect(cells(res.text, 'data-partner', 'museum')).toContain('Городской &lt;b&gt;музей&lt;/b&gt;');
    expect(cells(res.text, 'data-fund', 'fund')).toContain('25');
    expect(res.text).toContain('data-run-status="none"');
    for (const asset of ['/app/assets/uPlot.iife.min.js', '/app/assets/uPlot.min.css', '/app/assets/finance-charts.js']) {
      expect((await auditor.get(asset)).status).toBe(200);
    }
    // English and a refused period
    const en = await auditor.get('/app/finance?lang=en&from=2026-13-01&to=x');
    expect(en.text).toContain('That period cannot be shown');
    expect(en.text).toContain('Points per day');
    expect((await auditor.get('/app/finance?lang=ru')).status).toBe(200);
  });

  it('keeps a closed day’s figures once, from that day’s transactions, and reads them back equal to the journal', async () => {
    const reads = t.app.get(LedgerReadService);
    const now = new Date();
    const today = calendarDayOf(now);
    const live = await reads.periodFigures(today, today, now);
    // three days on, today is a closed day: kept once, on demand, and the figures are unchanged
    const later = new Date(now.getTime() + 3 * 86_400_000);
    const kept = await reads.periodFigures(today, today, later);
    expect(kept.daysFilled).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(kept.days)).toBe(JSON.stringify(live.days));
    expect(JSON.stringify(kept.partners)).toBe(JSON.stringify(live.partners));
    const again = await reads.periodFigures(today, today, later);
    expect(again.daysFilled).toBe(0);
    expect(JSON.stringify(again.days)).toBe(JSON.stringify(live.days));
    const rows = await t.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM ledger_daily_closed WHERE day = ${today}::date`;
    expect(Number(rows[0].n)).toBe(1);
  });

  it('the open day is read from its kept hours and the current hour’s journal, equal to the whole day aggregated live', async () => {
    const daily = t.app.get(DailyTotalsRepository);
    const now = new Date();
    const today = calendarDayOf(now);
    const start = calendarDayStart(today);
    const hour = hourOf(now);
    const next = new Date(hour.getTime() + 3_600_000);
    const sorted = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();
    const live = await daily.figures(today, today, today, start, start);
    expect(live.length).toBeGreaterThan(0);
    // keep the hour that holds every transaction of this test (as the job keeps a closed one), then read through it
    try {
      expect(await daily.fillHour(hour)).toBe(true);
      expect(await daily.fillHour(hour)).toBe(false);
      const kept = await t.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM ledger_hourly_totals WHERE hour = ${hour}`;
      expect(Number(kept[0].n)).toBeGreaterThan(0);
      expect(sorted(await daily.figures(today, today, today, start, next))).toEqual(sorted(live));
      // the kept hour is read, not the journal: a figure changed in it shows (derived data, not the journal)
      await t.prisma.$executeRaw`UPDATE ledger_hourly_totals SET credits = credits + 1000 WHERE hour = ${hour} AND kind = 'charity'`;
      expect(sorted(await daily.figures(today, today, today, start, next))).not.toEqual(sorted(live));
    } finally {
      await t.prisma.$executeRaw`DELETE FROM ledger_hourly_totals WHERE hour = ${hour}`;
      await t.prisma.$executeRaw`DELETE FROM ledger_hourly_closed WHERE hour = ${hour}`;
    }
    // the closed hours of the open day are kept by the read itself (none has any of this test's postings in it)
    await t.app.get(LedgerReadService).periodFigures(today, today, now);
    const hours = await t.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM ledger_hourly_closed
                                                             WHERE hour >= ${start} AND hour < ${calendarDayStart(addDays(today, 1))}`;
    const closedHours = Math.max(0, Math.floor((hourOf(new Date(now.getTime() - 2 * 60_000)).getTime() - start.getTime()) / 3_600_000));
    expect(Number(hours[0].n)).toBe(closedHours);
  });

  it('the trial balance at a past moment is the API’s at that moment, sortable, with a CSV', async () => {
    const api = (await t.http.get(`/v1/audit/trial-balance?asOf=${between.toISOString()}`).set(t.admin).expect(200)).body;
    const res = await auditor.get(`/app/finance/trial-balance?asOf=${localMomentOf(between)}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`data-as-of="${between.toISOString()}"`);
    expect(res.text).toContain(`value="${localMomentOf(between)}"`);
    expect(api.accounts.length).toBeGreaterThan(0);
    for (const a of api.accounts) {
      const row = cells(res.text, 'data-account', a.account);
      expect({ account: a.account, debits: colOf(row, 'debits'), credits: colOf(row, 'credits'), balance: colOf(row, 'balance') }).toEqual({
        account: a.account,
        debits: a.debits,
        credits: a.credits,
        balance: a.balance,
      });
    }
    // at that moment the redemption had not happened
    expect(res.text).not.toContain('data-account="partner:museum:redeemed"');
    const now = await auditor.get('/app/finance/trial-balance?sort=balance&dir=desc');
    expect(now.text).toContain('data-account="partner:museum:redeemed"');
    expect(now.text).toContain('aria-sort="descending"');
    const csv = await auditor.get(`/app/finance/trial-balance.csv?asOf=${localMomentOf(between)}`);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.text.split('\n')[0]).toBe('account,asset,debits,credits,balance');
    expect(csv.text).toContain(`resident:anna,POINTS,0,1250,1250`);
  });

  it('accounts are found by code or resident id; a statement shows its balances, links each line to its transaction, and its CSV is the API’s byte for byte', async () => {
    const found = await auditor.get('/app/finance/accounts?q=anna');
    expect(found.text).toContain('data-account="resident:anna"');
    expect((await auditor.get('/app/finance/accounts?q=partner:')).text).toContain('data-account="partner:museum:redeemed"');
    expect((await auditor.get('/app/finance/accounts?q=nobody-here')).text).toContain('Таких счетов нет.');

    const today = calendarDayOf(new Date());
    const page = await auditor.get(`/app/finance/statement?account=resident:anna&from=${today}&to=${today}`);
    expect(page.status).toBe(200);
    expect(numberOf(/data-balance="opening">([^<]*)</.exec(page.text)![1])).toBe('0');
    expect(numberOf(/data-balance="closing">([^<]*)</.exec(page.text)![1])).toBe('925');
    expect(page.text).toContain(`href="/app/finance/transactions/${redemption.transactionId}"`);

    const csv = await auditor.get(`/app/finance/statement.csv?account=resident:anna&from=${today}&to=${today}`);
    expect(csv.status).toBe(200);
    // the page's period is Moscow's days: from the start of `from` to the end of `to`
    const from = calendarDayStart(today).toISOString();
    const to = calendarDayStart(addDays(today, 1)).toISOString();
    const api = await t.http
      .get(`/v1/audit/accounts/resident:anna/statement?from=${from}&to=${to}`)
      .set(t.admin)
      .set('Accept', 'text/csv')
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => done(null, text));
      })
      .expect(200);
    expect(csv.text).toBe(api.body);
    expect(csv.text.split('\n').length).toBeGreaterThan(4);
    expect((await auditor.get('/app/finance/statement?account=resident:nobody')).status).toBe(404);
  });

  it('a redemption’s transaction shows its postings, item and code, and its seal with the proof the API gives and the command that verifies it', async () => {
    const res = await auditor.get(`/app/finance/transactions/${redemption.transactionId}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-cause="redemption"');
    expect(res.text).toContain('Ночь в музее');
    expect(res.text).toContain(`<code data-code>${redemption.code}</code>`);
    expect(res.text).toContain('data-posting="partner:museum:redeemed"');
    expect(res.text).toContain(`node scripts/verify-proof.js proof-${redemption.transactionId}.json`);
    const proof = await auditor.get(`/app/finance/transactions/${redemption.transactionId}/proof.json`);
    const api = (await t.http.get(`/v1/audit/transactions/${redemption.transactionId}/proof`).set(t.admin).expect(200)).body;
    expect(JSON.parse(proof.text)).toEqual(api);
    // an adjustment names its reason (escaped) and who made it
    const adjustments = (await t.http.get('/v1/audit/transactions?type=adjustment').set(t.admin).expect(200)).body.items;
    const boris = adjustments.find((a: { metadata: { residentId: string } }) => a.metadata.residentId === 'boris');
    const adj = await auditor.get(`/app/finance/transactions/${boris.id}`);
    expect(adj.text).toContain('data-cause="adjustment"');
    expect(adj.text).toContain('Ошибка &lt;кассы&gt;');
    expect(adj.text).toContain('bootstrap-admin');
    expect((await auditor.get(`/app/finance/transactions/${randomUUID()}`)).status).toBe(404);
    expect((await auditor.get('/app/finance/transactions/not-a-uuid')).status).toBe(404);
  });

  it('an admin starts a reconciliation from the page and sees it pass; an auditor has no "run now" and a forged post is refused', async () => {
    const auditorRuns = await auditor.get('/app/finance/reconciliations');
    expect(auditorRuns.status).toBe(200);
    expect(auditorRuns.text).not.toContain('data-run-now');
    const forged = await auditor.post('/app/finance/reconciliations');
    expect(forged.status).toBe(403);
    const list = await admin.get('/app/finance/reconciliations');
    expect(list.text).toContain('data-run-now');
    // without its CSRF token, the admin's own post is refused too
    expect((await admin.post('/app/finance/reconciliations', {}, null)).status).toBe(403);
    expect((await t.http.get('/v1/audit/reconciliations').set(t.admin).expect(200)).body.items).toHaveLength(0);
    const started = await admin.post('/app/finance/reconciliations');
    expect(started.status).toBe(303);
    const location = started.headers.location;
    expect(location).toMatch(/^\/app\/finance\/reconciliations\/[0-9a-f-]{36}$/);
    const id = location.split('/').at(-1)!;
    await waitFor(async () => (await t.http.get(`/v1/audit/reconciliations/${id}`).set(t.admin)).body.status !== 'running', 60_000);
    const report = await admin.get(location);
    expect(report.text).toContain('data-run-status="passed"');
    expect(report.text).not.toContain('http-equiv="refresh"');
    expect(report.text).toContain('data-check="trial_balance_zero"');
    const overview = await auditor.get('/app/finance');
    expect(overview.text).toContain('data-run-status="passed"');
  }, 90_000);

  it('the liability page is the liability report’s, now and at a past moment, by month of expiry', async () => {
    for (const [path, api] of [
      ['/app/finance/liability', '/v1/audit/liability'],
      [`/app/finance/liability?asOf=${localMomentOf(between)}`, `/v1/audit/liability?asOf=${between.toISOString()}`],
    ]) {
      const res = await auditor.get(path);
      expect(res.status).toBe(200);
      const report = (await t.http.get(api).set(t.admin).expect(200)).body;
      const shown = (attr: string, k: string) => numberOf(new RegExp(`${attr}="${k}">([^<]*)<`).exec(res.text)?.[1] ?? 'missing');
      expect({
        outstanding: shown('data-liability', 'outstanding'),
        pending: shown('data-liability', 'pending'),
        withoutExpiry: shown('data-liability', 'withoutExpiry'),
        issued: shown('data-flow', 'issued'),
        redeemed: shown('data-flow', 'redeemed'),
        donated: shown('data-flow', 'donated'),
        expired: shown('data-flow', 'expired'),
      }).toEqual({
        outstanding: report.outstanding,
        pending: report.pending,
        withoutExpiry: report.withoutExpiry,
        issued: report.issued,
        redeemed: report.redeemed,
        donated: report.donated,
        expired: report.expired,
      });
      // now boris's 40 expire in some month; at the earlier moment nothing had an expiry
      expect((report.byExpiryMonth as unknown[]).length).toBe(path === '/app/finance/liability' ? 1 : 0);
      for (const m of report.byExpiryMonth as { month: string; amount: string }[]) {
        expect(numberOf(/class="num">([^<]*)</.exec(cells(res.text, 'data-month', m.month))![1])).toBe(m.amount);
      }
    }
    // at the earlier moment only the welcome adjustment had been made
    const past = await auditor.get(`/app/finance/liability?asOf=${localMomentOf(between)}`);
    expect(numberOf(/data-liability="outstanding">([^<]*)</.exec(past.text)![1])).toBe('1250');
    expect(past.text).toContain(`value="${localMomentOf(between)}"`);
    // the language link keeps the moment shown
    expect(past.text).toMatch(
      new RegExp(`href="/app/finance/liability\\?asOf=${encodeURIComponent(localMomentOf(between))}&amp;lang=(en|ru)"`),
    );
    expect((await auditor.get('/app/finance/liability?lang=en')).text).toContain('Points held, by month of expiry');
  });

  it('the awards page lists the latest bulk awards with what each credited', async () => {
    const empty = await auditor.get('/app/finance/awards?lang=ru');
    expect(empty.text).toContain('Массовых начислений ещё не было.');
    const created = await t.http
      .post('/v1/admin/awards?description=%D0%94%D0%B5%D0%BD%D1%8C%20%3Cb%3E%D0%B3%D0%BE%D1%80%D0%BE%D0%B4%D0%B0%3C%2Fb%3E')
      .set(t.admin)
      .set('Content-Type', 'text/csv')
      .send('carl,30,a\ndora,20,b\nnot a resident!,5,c\n')
      .expect(202);
    const id = created.body.id as string;
    await waitFor(async () => (await t.http.get(`/v1/admin/awards/${id}`).set(t.admin)).body.status === 'ready', 20_000, 'validated');
    await t.http.post(`/v1/admin/awards/${id}/execute`).set(t.admin).expect(202);
    await waitFor(async () => (await t.http.get(`/v1/admin/awards/${id}`).set(t.admin)).body.status === 'done', 20_000, 'credited');
    const res = await auditor.get('/app/finance/awards');
    const row = cells(res.text, 'data-award', id);
    expect(row).toContain('День &lt;b&gt;города&lt;/b&gt;');
    expect(row).toContain('data-status="done"');
    expect(numberOf(/data-col="total">([^<]*)</.exec(row)![1])).toBe('50');
    expect(numberOf(/data-col="credited">([^<]*)</.exec(row)![1])).toBe('50');
    expect(row).toContain('отклонено: 1');
    expect(res.text).toMatch(/href="\/app\/finance\/awards" aria-current="page"/);
  });
});
