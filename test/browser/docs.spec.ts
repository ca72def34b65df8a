import type { BrowserContext, Page } from 'playwright-core';
import { startTestApp, TestApp } from '../support/app';
import { launchBrowser } from '../support/chromium';

/** A newcomer opens /docs in a browser, finds the endpoints and tries the catalogue. */
describe('the API docs in a browser', () => {
  let t: TestApp;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let page: Page;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp();
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 300_000); // a first run may install chromium

  afterAll(async () => {
    await browser?.close();
    await t.close();
  });

  it('renders Swagger UI listing the endpoints', async () => {
    await page.goto(`${base}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
    expect(await page.title()).toBe('Civic points ledger API');
    const paths = await page.locator('.opblock-summary-path').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-path')));
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/catalogue',
        '/v1/earn-events',
        '/v1/me/redemptions',
        '/v1/partner/codes/{code}',
        '/v1/audit/trial-balance',
      ]),
    );
    expect(paths.length).toBeGreaterThan(30);
  });

  it('“Try it out” then “Execute” on GET /v1/catalogue shows a 200', async () => {
    const operation = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path[data-path="/v1/catalogue"]') });
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table tr.response .response-col_status');
    await status.waitFor({ timeout: 20_000 });
    expect((await status.innerText()).trim()).toBe('200');
    expect(await operation.locator('.live-responses-table .microlight, .live-responses-table pre').first().innerText()).toContain(
      '"items"',
    );
  });
});
