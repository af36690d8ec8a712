import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

// The enqueue controls page, in Chromium against a real PostgreSQL.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: enqueue controls', () => {
  const db = useTestDb({ poolSize: 4 });
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;

  beforeAll(async () => {
    server = await startUiServer({ arbiter: db.arbiter }, { pollMs: 60_000 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows per queue what was debounced, throttled and rejected', async () => {
    const q = await db.arbiter.createQueue('ui_ctl');
    for (let i = 0; i < 3; i++) await q.enqueue({ i }, { debounce: { key: 'd', windowMs: 60_000 } });
    for (let i = 0; i < 2; i++) await q.enqueue({ i }, { throttle: { key: 't', windowMs: 60_000 } });
    await q.enqueue({}, { maxQueued: { limit: 1 } }).catch(() => undefined);
    await open(page, server.url, 'controls', 'tr[data-queue="ui_ctl"]');
    const row = page.locator('tr[data-queue="ui_ctl"]');
    expect(await row.locator('[data-k=debounced]').innerText()).toBe('2');
    expect(await row.locator('[data-k=throttled]').innerText()).toBe('1');
    expect(await row.locator('[data-k=unique_rejected]').innerText()).toBe('0');
    expect(await row.locator('[data-k=overflow_rejected]').innerText()).toBe('1');
    expect(watch.consoleErrors).toEqual([]);
  });

  it("a debounced job's page says how many enqueues it absorbed", async () => {
    const q = await db.arbiter.createQueue('ui_ctl_job');
    const first = await q.enqueue({ v: 1 }, { debounce: { key: 'k', windowMs: 60_000 } });
    for (let v = 2; v <= 4; v++) await q.enqueue({ v }, { debounce: { key: 'k', windowMs: 60_000 } });
    await open(page, server.url, `job/ui_ctl_job/${first!.id}`, '[data-testid=debounced]');
    expect(await page.locator('[data-testid=debounced]').innerText()).toBe('key k, absorbed 3 enqueues');
    expect(watch.consoleErrors).toEqual([]);
  });
});
