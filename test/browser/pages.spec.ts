import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, TestApp } from '../support/app';
import { axeViolations, launchSharedBrowser } from '../support/chromium';

/** Where screenshots of every page go (CI keeps the folder; docs/pages.md lists them). */
const SHOTS = join(__dirname, '..', '..', 'test-artifacts', 'screenshots');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const XSS_TITLE = '<img src=x onerror=alert(1)>';
const XSS_FUND = '</script><script>alert(1)</script>';

/**
 * The stories of issue 19 in Debian's chromium: a resident finds a museum ticket by category and
 * redeems it; the museum's cashier checks and redeems the code; a second till gets "already
 * redeemed"; the resident sees the code used. Every page is screenshotted at phone and desktop
 * width, checked by axe-core, and no script planted in a title ever runs.
 */
describe('pages for people in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  const dialogs: string[] = [];
  let museumKey = '';
  let fundKey = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp({ LOGIN_RATE_PER_MINUTE: '10000' });
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const ok = (res: { status: number; body: unknown }, status = 201) => {
      if (res.status !== status) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as Record<string, string>;
    };
    ok(await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'city-museum', name: 'City Museum', kind: 'museum' }));
    ok(await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'fund', name: XSS_FUND, kind: 'charity' }));
    museumKey = ok(
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'City Museum', role: 'partner', partnerId: 'city-museum' }),
    ).apiKey;
    fundKey = ok(
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: XSS_FUND, role: 'partner', partnerId: 'fund' }),
    ).apiKey;
    for (const [id, ru, en, position] of [
      ['cafes', 'Кафе и рестораны', 'Cafes and restaurants', 10],
      ['museums', 'Музеи', 'Museums', 30],
      ['charity', 'Благотворительность', 'Charity', 70],
    ] as const) {
      ok(await t.http.post('/v1/admin/categories').set(t.admin).send({ id, names: { ru, en }, position }));
    }
    const item = async (body: object) => ok(await t.http.post('/v1/admin/catalogue-items').set(t.admin).send(body));
    await item({
      id: 'museum-night',
      kind: 'TICKET',
      title: 'Ночь в Городском музее',
      partnerId: 'city-museum',
      pricePoints: '300',
      codeSource: 'GENERATED',
      stock: 100,
      codeValidDays: 14,
      perResidentLimit: 2,
      categoryId: 'museums',
    });
    await item({
      id: 'museum-xss',
      kind: 'TICKET',
      title: XSS_TITLE,
      partnerId: 'city-museum',
      pricePoints: '50',
      codeSource: 'GENERATED',
      categoryId: 'museums',
    });
    await item({
      id: 'fund-xss',
      kind: 'DONATION',
      title: XSS_FUND,
      partnerId: 'fund',
      minPoints: '10',
      maxPoints: '1000',
      categoryId: 'charity',
    });
    ok(
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', 'opening-anna')
        .send({ residentId: 'anna', amount: '1250', reason: 'welcome' }),
    );
    browser = await launchSharedBrowser();
  }, 300_000); // a first run may install chromium

  jest.setTimeout(180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await t.close();
  });

  afterEach(() => {
    // no page ever ran a script planted in a title or a name
    expect(dialogs).toEqual([]);
  });

  async function newUser(viewport = PHONE): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'ru-RU' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    return page;
  }

  /** Screenshots at phone and desktop width, and no serious or critical axe-core violation. */
  async function look(page: Page, name: string): Promise<void> {
    const violations = await axeViolations(page);
    expect({ page: name, violations }).toEqual({ page: name, violations: [] });
    const size = page.viewportSize()!;
    for (const [label, viewport] of [
      ['phone', PHONE],
      ['desktop', DESKTOP],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`), fullPage: true });
    }
    await page.setViewportSize(size);
  }

  let code = '';

  it('a resident signs in, finds a museum ticket by category, redeems it and sees the code as text and QR', async () => {
    const page = await newUser();
    await page.goto(`${base}/app`);
    expect(page.url()).toBe(`${base}/app/login/resident`);
    await look(page, 'login-resident-ru');
    await page.getByLabel('Токен городского входа').fill(t.residentAuth('anna', 3600).Authorization.slice('Bearer '.length));
    await page.getByRole('button', { name: 'Войти как житель' }).click();
    await page.waitForURL(`${base}/app`);
    await expect(page.locator('[data-balance="available"]').innerText()).resolves.toBe('1\u00a0250 баллов');
    await look(page, 'home-ru');

    await page.getByRole('link', { name: 'Музеи' }).first().click();
    await page.waitForURL(`${base}/app/catalogue?category=museums`);
    // the planted title is shown as text, not made an element
    await expect(page.getByText(XSS_TITLE).count()).resolves.toBeGreaterThan(0);
    expect(await page.locator('main img').count()).toBe(0);
    await look(page, 'catalogue-museums-ru');

    await page.locator('[data-item="museum-night"]').getByRole('button').click();
    await expect(page.getByText('Обменять 300 баллов на «Ночь в Городском музее»?').count()).resolves.toBe(1);
    await look(page, 'redeem-confirm-ru');
    await page.getByRole('button', { name: 'Обменять' }).click();
    await page.waitForURL(/\/app\/codes\/[0-9a-f-]{36}$/);
    code = (await page.locator('[data-code]').innerText()).trim();
    expect(code).toMatch(/^[0-9A-Z]{13}$/);
    await expect(page.locator('img.qr').isVisible()).resolves.toBe(true);
    expect(
      await page
        .locator('img.qr')
        .evaluate((img: unknown) => (img as { complete: boolean }).complete && (img as { naturalWidth: number }).naturalWidth > 0),
    ).toBe(true);
    await look(page, 'code-ru');
  });

  it('the museum’s cashier types the code, sees it valid, redeems it and sees it redeemed; a second till gets already redeemed', async () => {
    const till = await newUser(DESKTOP);
    const second = await newUser(DESKTOP);
    for (const p of [till, second]) {
      await p.goto(`${base}/app/till`);
      expect(p.url()).toBe(`${base}/app/login`);
      await p.getByLabel('API-ключ').fill(museumKey);
      await p.getByRole('button', { name: 'Войти' }).click();
      await p.waitForURL(`${base}/app/till`);
    }
    await look(till, 'till-empty-ru');
    // the field has the focus: a scanner types and presses Enter
    await till.keyboard.type(code);
    await till.keyboard.press('Enter');
    await till.waitForURL(/code=/);
    await expect(till.locator('[data-status]').getAttribute('data-status')).resolves.toBe('issued');
    await look(till, 'till-valid-ru');
    await second.getByLabel('Код покупателя').fill(code);
    await second.keyboard.press('Enter');
    await expect(second.locator('[data-status]').getAttribute('data-status')).resolves.toBe('issued');

    await till.getByRole('button', { name: 'Погасить' }).click();
    await till.locator('section[data-status="redeemed"]').waitFor();
    await expect(till.getByText('Погашен только что').count()).resolves.toBe(1);
    await look(till, 'till-redeemed-ru');

    await second.getByRole('button', { name: 'Погасить' }).click();
    await second.locator('section[data-status="redeemed"]').waitFor();
    await expect(second.getByText('Уже погашен').count()).resolves.toBe(1);
    await look(second, 'till-already-redeemed-ru');

    await till.goto(`${base}/app/till?code=NOT-OURS-123&lang=en`);
    await expect(till.locator('[data-status]').getAttribute('data-status')).resolves.toBe('unknown');
    await look(till, 'till-unknown-en');
  });

  it('the resident sees the code as used', async () => {
    const page = contexts[0].pages()[0];
    await page.goto(`${base}/app/codes`);
    await expect(page.locator('.badge[data-status="redeemed"]').count()).resolves.toBe(1);
    await look(page, 'codes-ru');
    await page.goto(`${base}/app/history`);
    await look(page, 'history-ru');
    await page.goto(`${base}/app/catalogue?category=charity&lang=en`);
    await expect(page.getByText(XSS_FUND).count()).resolves.toBeGreaterThan(0);
    await look(page, 'catalogue-charity-en');
    await page.locator('[data-item="fund-xss"]').getByRole('button').click();
    await look(page, 'donate-en');
    await page.getByLabel('Points', { exact: true }).fill('25');
    await page.getByRole('button', { name: 'Donate' }).click();
    await page.waitForURL(/donated=1/);
    await look(page, 'donated-en');
  });

  it('a fund named with a script sees its name as text at its till; staff and the wrong role see their pages', async () => {
    const fund = await newUser();
    await fund.goto(`${base}/app/login?lang=en`);
    await look(fund, 'login-en');
    await fund.getByLabel('API key').fill(fundKey);
    await fund.getByRole('button', { name: 'Sign in', exact: true }).click();
    await fund.waitForURL(`${base}/app/till`);
    await expect(fund.getByText(`Partner: ${XSS_FUND}`).count()).resolves.toBe(1);
    await fund.goto(`${base}/app`);
    await expect(fund.getByRole('heading', { name: 'Not allowed' }).count()).resolves.toBe(1);
    await look(fund, 'forbidden-en');

    const auditor = await newUser(DESKTOP);
    await auditor.goto(`${base}/app/login`);
    await auditor.getByLabel('API-ключ').fill(t.config.adminApiKey!);
    await auditor.getByRole('button', { name: 'Войти' }).click();
    await auditor.waitForURL(`${base}/app/finance`);
    await look(auditor, 'finance-ru');
  });
});
