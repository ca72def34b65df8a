import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SealService } from '../../src/audit/seal.service';
import { addDays, calendarDayOf, calendarDayStart } from '../../src/ledger/domain/calendar-day';
import { localMomentOf, momentOf } from '../../src/pages/finance/moment';
import { startTestApp, TestApp } from '../support/app';
import { axeViolations, launchSharedBrowser } from '../support/chromium';

/** Where screenshots go (CI keeps the folder; docs/pages.md lists them). */
const SHOTS = join(__dirname, '..', '..', 'test-artifacts', 'screenshots');
const PHONE = { width: 390, height: 844 };
const TABLET = { width: 820, height: 1180 };
const DESKTOP = { width: 1280, height: 900 };

/** A cell's number as the page writes it in Russian ("1 250", a minus sign) back to the API's decimal string. */
const numberOf = (text: string) =>
  text
    .replace(/[\s\u00a0\u202f]/g, '')
    .replace('\u2212', '-')
    .replace(',', '.');

/**
 * The finance console's stories of issue 20 in Debian's chromium: an auditor signs in, sees the
 * charts drawn, picks a past moment and sees that moment's trial balance (the API's), downloads a
 * statement CSV (the API's), follows a redemption's transaction to its code and its proof (which
 * the offline script verifies); an admin starts a reconciliation and sees it pass; an auditor has
 * no "run now". Each page is checked by axe-core and screenshotted at tablet and desktop width.
 */
describe('the finance console in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  let auditorKey = '';
  let between = new Date();
  let code = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp({ LOGIN_RATE_PER_MINUTE: '10000' });
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const ok = (res: { status: number; body: unknown }, status = 201) => {
      if (res.status !== status) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as Record<string, any>;
    };
    ok(await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'city-museum', name: 'Городской музей', kind: 'museum' }));
    ok(await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'kind-fund', name: 'Фонд «Добро»', kind: 'charity' }));
    ok(
      await t.http.post('/v1/admin/catalogue-items').set(t.admin).send({
        id: 'museum-night',
        kind: 'TICKET',
        title: 'Ночь в Городском музее',
        partnerId: 'city-museum',
        pricePoints: '300',
        codeSource: 'GENERATED',
      }),
    );
    ok(
      await t.http
        .post('/v1/admin/catalogue-items')
        .set(t.admin)
        .send({ id: 'kind-gift', kind: 'DONATION', title: 'Помочь', partnerId: 'kind-fund', minPoints: '1', maxPoints: '1000' }),
    );
    for (const [resident, amount] of [
      ['anna', '1250'],
      ['boris', '400'],
    ]) {
      ok(
        await t.http
          .post('/v1/admin/adjustments')
          .set(t.admin)
          .set('Idempotency-Key', randomUUID())
          .send({ residentId: resident, amount, reason: 'welcome' }),
      );
    }
    await new Promise((r) => setTimeout(r, 1100));
    between = new Date(Math.floor(Date.now() / 1000) * 1000);
    await new Promise((r) => setTimeout(r, 1100));
    code = ok(
      await t.http
        .post('/v1/me/redemptions')
        .set(t.residentAuth('anna'))
        .set('Idempotency-Key', randomUUID())
        .send({ itemId: 'museum-night' }),
    ).codes[0].code;
    ok(
      await t.http
        .post('/v1/me/donations')
        .set(t.residentAuth('boris'))
        .set('Idempotency-Key', randomUUID())
        .send({ itemId: 'kind-gift', amount: '40' }),
    );
    await t.app.get(SealService).seal(new Date(Date.now() + 1000));
    auditorKey = ok(await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'Аудитор', role: 'auditor' })).apiKey;
    browser = await launchSharedBrowser();
  }, 300_000);

  jest.setTimeout(180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await t.close();
  });

  async function signIn(key: string): Promise<Page> {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'ru-RU', acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/app/finance`);
    expect(page.url()).toBe(`${base}/app/login`);
    await page.getByLabel('API-ключ').fill(key);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.waitForURL(`${base}/app/finance`);
    return page;
  }

  /** No serious or critical axe-core violation; nothing wider than a phone's screen; screenshots at phone, tablet and desktop width. */
  async function look(page: Page, name: string): Promise<void> {
    const violations = await axeViolations(page);
    expect({ page: name, violations }).toEqual({ page: name, violations: [] });
    const size = page.viewportSize()!;
    for (const [label, viewport] of [
      ['phone', PHONE],
      ['tablet', TABLET],
      ['desktop', DESKTOP],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(200); // the charts follow the width
      // wide tables scroll inside their own region: the page itself never scrolls sideways
      const width = await page.evaluate(
        () => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth,
      );
      expect({ page: name, label, overflows: width > viewport.width }).toEqual({ page: name, label, overflows: false });
      await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`), fullPage: true });
    }
    await page.setViewportSize(size);
  }

  it('an auditor sees the charts drawn, with their numbers in tables beneath', async () => {
    const page = await signIn(auditorKey);
    const movements = page.locator('[data-chart-name="movements"]');
    const liability = page.locator('[data-chart-name="liability"]');
    await page.locator('[data-chart-name="liability"][data-drawn]').waitFor();
    await expect(movements.getAttribute('data-drawn')).resolves.toBe('4');
    await expect(liability.getAttribute('data-drawn')).resolves.toBe('1');
    expect(await movements.locator('canvas').count()).toBe(1);
    expect(await liability.locator('canvas').count()).toBe(1);
    // uPlot's legend: the day, then one entry per series
    expect(await movements.locator('.u-legend .u-series').count()).toBe(5);
    const today = page.locator(`[data-table="movements"] tr[data-day="${calendarDayOf(new Date())}"]`);
    await expect(today.locator('[data-series="redeemed"]').innerText()).resolves.toBe('300');
    await expect(today.locator('[data-series="donated"]').innerText()).resolves.toBe('40');
    await expect(page.locator('[data-total="closingLiability"]').innerText()).resolves.toBe('1\u00a0310');
    await expect(page.locator('[data-partner="city-museum"]').innerText()).resolves.toContain('Городской музей');
    await look(page, 'finance-overview-ru');
  });

  it('picks a past moment and sees that moment’s trial balance, the API’s', async () => {
    const page = contexts[0].pages()[0];
    await page.getByRole('link', { name: 'Оборотно-сальдовая ведомость' }).first().click();
    await page.waitForURL(`${base}/app/finance/trial-balance`);
    await page.getByLabel('На момент (московское время)').fill(localMomentOf(between));
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.waitForURL(/asOf=/);
    // the same moment (a browser leaves out the seconds of a datetime-local value when they are :00)
    const sent = new URL(page.url()).searchParams.get('asOf');
    expect(momentOf(sent)?.getTime()).toBe(momentOf(localMomentOf(between))?.getTime());
    const api = (await t.http.get(`/v1/audit/trial-balance?asOf=${between.toISOString()}`).set(t.admin).expect(200)).body;
    const shown = await page.locator('[data-table="trial-balance"] tbody tr').evaluateAll((rows) =>
      rows.map((r) => {
        const el = r as unknown as { getAttribute(n: string): string; querySelector(s: string): { textContent: string } };
        return [
          el.getAttribute('data-account'),
          ...['debits', 'credits', 'balance'].map((c) => el.querySelector(`[data-col="${c}"]`).textContent),
        ];
      }),
    );
    expect(shown.map(([account, ...v]) => [account, ...v.map((x) => numberOf(x))])).toEqual(
      api.accounts.map((a: Record<string, string>) => [a.account, a.debits, a.credits, a.balance]),
    );
    // the redemption came after that moment
    expect(shown.some(([account]) => account === 'partner:city-museum:redeemed')).toBe(false);
    await look(page, 'finance-trial-balance-ru');
  });

  it('finds a resident’s account and downloads its statement as CSV, the API’s', async () => {
    const page = contexts[0].pages()[0];
    await page.getByRole('link', { name: 'Счета' }).first().click();
    await page.getByLabel('Код счёта или идентификатор жителя').fill('anna');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.getByRole('link', { name: 'resident:anna', exact: true }).click();
    await page.waitForURL(/\/app\/finance\/statement\?account=resident%3Aanna/);
    await expect(page.locator('[data-balance="closing"]').innerText()).resolves.toBe('950');
    await look(page, 'finance-statement-ru');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[data-csv]').click()]);
    const csv = readFileSync(await download.path(), 'utf8');
    // the page's period (the last 30 days by default) is Moscow's days: from the start of `from` to the end of `to`
    const from = calendarDayStart(await page.locator('input[name="from"]').inputValue()).toISOString();
    const to = calendarDayStart(addDays(await page.locator('input[name="to"]').inputValue(), 1)).toISOString();
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
    expect(csv).toBe(api.body);
  });

  it('follows the redemption to its transaction: its code, and a proof that verifies offline', async () => {
    const page = contexts[0].pages()[0];
    await page.locator('a[data-type="redeem"]').first().click();
    await page.waitForURL(/\/app\/finance\/transactions\/[0-9a-f-]{36}$/);
    await expect(page.locator('[data-code]').innerText()).resolves.toBe(code);
    await expect(page.locator('[data-cause="redemption"]').innerText()).resolves.toContain('Ночь в Городском музее');
    await look(page, 'finance-transaction-ru');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[data-proof]').click()]);
    const file = await download.path();
    const verified = execFileSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'verify-proof.js'), file], {
      encoding: 'utf8',
    });
    expect(verified).toMatch(/^verified/);
    await expect(page.locator('[data-verify]').innerText()).resolves.toMatch(/^node scripts\/verify-proof\.js proof-[0-9a-f-]{36}\.json$/);
  });

  it('opens the liability by month of expiry and the bulk awards from the console’s sections', async () => {
    const page = contexts[0].pages()[0];
    await page.getByRole('link', { name: 'Обязательства' }).first().click();
    await page.waitForURL(`${base}/app/finance/liability`);
    const api = (await t.http.get('/v1/audit/liability').set(t.admin).expect(200)).body;
    await expect(page.locator('[data-liability="outstanding"]').innerText().then(numberOf)).resolves.toBe(api.outstanding);
    await look(page, 'finance-liability-ru');
    await page.getByRole('link', { name: 'Массовые начисления' }).first().click();
    await page.waitForURL(`${base}/app/finance/awards`);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Массовые начисления');
    await look(page, 'finance-awards-ru');
  });

  it('an admin starts a reconciliation and sees it pass; an auditor has no "run now"', async () => {
    const auditor = contexts[0].pages()[0];
    await auditor.goto(`${base}/app/finance/reconciliations`);
    expect(await auditor.getByRole('button', { name: 'Запустить сверку сейчас' }).count()).toBe(0);

    const admin = await signIn(t.config.adminApiKey!);
    await admin.getByRole('link', { name: 'Сверки' }).first().click();
    await admin.getByRole('button', { name: 'Запустить сверку сейчас' }).click();
    await admin.waitForURL(/\/app\/finance\/reconciliations\/[0-9a-f-]{36}$/);
    // the report page refreshes itself while the run goes on
    await admin.locator('[data-run-status="passed"]').waitFor({ timeout: 90_000 });
    await expect(admin.locator('tr[data-check="trial_balance_zero"]').getAttribute('data-passed')).resolves.toBe('true');
    await look(admin, 'finance-reconciliation-ru');
    await admin.goto(`${base}/app/finance?lang=en`);
    await admin.locator('[data-chart-name="liability"][data-drawn]').waitFor();
    await expect(admin.locator('.glance').getAttribute('data-run-status')).resolves.toBe('passed');
    await look(admin, 'finance-overview-en');
    await auditor.goto(`${base}/app/finance/reconciliations`);
    await look(auditor, 'finance-reconciliations-ru');
  });
});
