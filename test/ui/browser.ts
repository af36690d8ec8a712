import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); the browser suites skip cleanly without it. */
export const CHROMIUM = process.env.ARBITER_CHROMIUM ?? '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) {
  console.warn(
    `[arbiter ui tests] SKIPPED: no Chromium at ${CHROMIUM} (install it with "apt-get install chromium" ` +
      'or set ARBITER_CHROMIUM to its path)',
  );
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** What a page did that a test may want to assert never happened. */
export interface PageWatch {
  dialogs: string[];
  consoleErrors: string[];
}

export async function watchedPage(browser: Browser, watch: PageWatch): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    // CSP violations are reported as console errors ("Refused to execute inline script …").
    if (m.type() === 'error') watch.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => watch.consoleErrors.push(`pageerror: ${e.message}`));
  return page;
}

/** Navigates to a dashboard hash route and waits until that view has rendered `selector`. */
export async function open(page: Page, base: string, hash: string, selector: string): Promise<void> {
  // A fresh document each time: a hash-only change would leave the previous view's elements matching.
  await page.goto('about:blank');
  await page.goto(`${base}/#/${hash}`);
  await page.waitForSelector(selector, { timeout: 10_000 });
}

/** Polls until `fn` returns a truthy value (for database state after a click). */
export async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
