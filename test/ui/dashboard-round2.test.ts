import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shiftJob, useTestDb } from '../support/db.js';
import { HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

// The operator surface's second round, clicked through in Chromium against a real PostgreSQL.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: alerts', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;

  beforeAll(async () => {
    server = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 0 }, { pollMs: 60_000 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('flags a queue whose oldest claimable job waited minutes with no live worker', async () => {
    const q = await db.arbiter.createQueue('ui_stalled');
    const job = (await q.enqueue({ n: 1 }))!;
    await db.arbiter.createQueue('ui_fine');
    await shiftJob(db.pool, db.schema, 'ui_stalled', job.id, `run_at = now() - interval '3 minutes'`);
    await open(page, server.url, 'overview', 'tr[data-queue="ui_stalled"]');
    const alert = page.locator('tr[data-queue="ui_stalled"] [data-testid=queue-alert]');
    expect(await alert.getAttribute('data-code')).toBe('no-live-worker');
    expect(await alert.getAttribute('title')).toContain('has waited 3 min');
    expect(await page.locator('tr[data-queue="ui_fine"] [data-testid=queue-alert]').count()).toBe(0);
    expect(await page.locator('[data-testid=alerts]').isVisible()).toBe(true);
    expect(await page.locator('[data-testid=alerts] li[data-queue="ui_stalled"]').innerText()).toContain(
      'No live worker serves queue "ui_stalled"',
    );
  });

  it('raised no dialog, page error or CSP violation', () => {
    expect(watch.dialogs).toEqual([]);
    expect(watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });
});
