import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's chromium (playwright's own browser downloads cannot be fetched on these machines):
 * the global setup's scripts/test-services.js installs it when missing.
 */
function assertChromium(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run node scripts/test-services.js chromium (it says how to install it)`);
}

/**
 * A headless browser with a profile of its own, and nothing that reaches out to the internet
 * (the closed network refuses a browser that tries).
 */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  assertChromium();
  const profile = mkdtempSync(join(tmpdir(), 'civic-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A headless browser whose contexts are separate users (cookies of their own): a resident and
 * two tills at once. The same chromium and flags as `launchBrowser`.
 */
export async function launchSharedBrowser(): Promise<Browser> {
  assertChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** What the tests use of axe-core inside the page. */
interface Axe {
  run(context: unknown, options: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[] }>;
}

/**
 * The page's serious and critical axe-core violations (id and the elements), axe evaluated by the
 * test through the DevTools protocol: the page's CSP still forbids any script of its own.
 */
export function axeViolations(page: Page): Promise<string[]> {
  return page.evaluate(async (source: string) => {
    const w = globalThis as unknown as { axe?: Axe; document: unknown };
    if (!w.axe) (0, eval)(source);
    const result = await w.axe!.run(w.document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  }, AXE);
}
