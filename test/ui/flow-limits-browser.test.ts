import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

// Real clicks in Chromium: a queue's limits set from the overview, checked in the database.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: flow-control limits', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;

  beforeAll(async () => {
    server = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 500 }, { pollMs: 700 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('sets, refuses a bad value without changing anything, and removes limits', async () => {
    await db.arbiter.createQueue('lim_ui');
    await open(page, server.url, 'overview', 'tr[data-queue="lim_ui"]');
    await page.locator('tr[data-queue="lim_ui"] [data-testid=queue-limits]').click();
    await page.waitForSelector('[data-testid=limits-panel][data-queue="lim_ui"][data-state=done]');
    const panel = page.locator('[data-testid=limits-panel][data-queue="lim_ui"]');
    expect(await panel.locator('[data-testid=limits-now]').innerText()).toContain('no cap; no rate limit');

    await panel.locator('[data-testid=limit-max-in-flight]').fill('3');
    await panel.locator('[data-testid=limit-rate]').fill('50');
    await panel.locator('[data-testid=limits-save]').click();
    await eventually(
      async () => (await db.arbiter.getQueueLimits('lim_ui')).maxInFlight === 3,
      'limits saved',
    );
    expect(await db.arbiter.getQueueLimits('lim_ui')).toEqual({
      maxInFlight: 3,
      rate: { perSecond: 50, burst: 50, cost: 1 },
    });
    await page.waitForSelector('[data-testid=limits-now]:has-text("at most 3 in flight")');

    await panel.locator('[data-testid=limit-max-in-flight]').fill('-2');
    await panel.locator('[data-testid=limits-save]').click();
    await page.waitForSelector('[data-testid=limits-panel][data-state=error]');
    expect((await db.arbiter.getQueueLimits('lim_ui')).maxInFlight).toBe(3);

    await page.locator('[data-testid=limit-max-in-flight]').fill('');
    await page.locator('[data-testid=limit-rate]').fill('');
    await page.locator('[data-testid=limits-save]').click();
    await eventually(
      async () => (await db.arbiter.getQueueLimits('lim_ui')).maxInFlight === null,
      'limits removed',
    );
    expect(await db.arbiter.getQueueLimits('lim_ui')).toEqual({ maxInFlight: null, rate: null });
    expect(watch.dialogs).toEqual([]);
    // The refused save answers 400; the page's own 404s (the favicon) are known to the other suites.
    expect(watch.consoleErrors.filter((e) => !/status of (400|404)/.test(e))).toEqual([]);
  });
});
