import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shiftJob, useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

const HOUR = 3_600_000;

// The operator surface's second round, clicked through in Chromium against a real PostgreSQL: actions
// that show their result at once, pages that stay live, alerts, and dead letters across queues.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: live pages, alerts, dead letters', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  /** Refreshes every 400 ms, no overview cache. */
  let fast: UiServer;
  /** Never refreshes during a test, and caches the overview for a minute: what a click shows is its own. */
  let slow: UiServer;

  beforeAll(async () => {
    fast = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 0 }, { pollMs: 400 });
    slow = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 60_000 }, { pollMs: 60_000 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await fast?.close();
    await slow?.close();
  });

  const paused = async (name: string) => (await db.arbiter.getQueue(name))!.paused;

  it('pauses and resumes a queue with buttons that show their result at once, whatever is cached', async () => {
    await db.arbiter.createQueue('ui_pause');
    await open(page, slow.url, 'overview', 'tr[data-queue="ui_pause"]');
    const row = page.locator('tr[data-queue="ui_pause"]');
    await row.locator('[data-testid=queue-pause][data-action=pause]').click();
    // Shown at once from the answer (the cached reading, a minute old, still says "active").
    await row.locator('[data-testid=queue-pause][data-action=resume]').waitFor({ timeout: 5_000 });
    expect(await row.locator('[data-k=state]').innerText()).toContain('paused');
    expect(await paused('ui_pause')).toBe(true);
    // The next click resumes: it acts on what the button says, never on a stale reading.
    await row.locator('[data-testid=queue-pause][data-action=resume]').click();
    await row.locator('[data-testid=queue-pause][data-action=pause]').waitFor({ timeout: 5_000 });
    expect(await paused('ui_pause')).toBe(false);
    expect(await row.locator('[data-k=state]').innerText()).toContain('active');
    // A reload reads the pause state fresh, not from the overview cache.
    await db.arbiter.pauseQueue('ui_pause');
    await open(page, slow.url, 'overview', 'tr[data-queue="ui_pause"] [data-action=resume]');
    await db.arbiter.resumeQueue('ui_pause');
  });

  it('refreshes the jobs, job, groups and dead-letter pages in place, keeping what the user typed', async () => {
    const q = await db.arbiter.createQueue('ui_live');
    const first = (await q.enqueue({ n: 1 }, { groupKey: 'g1' }))!;

    await open(page, fast.url, 'jobs/ui_live', `tr[data-job="${first.id}"]`);
    await page.fill('input[name=groupKey]', 'typed, not submitted');
    const second = (await q.enqueue({ n: 2 }))!;
    await page.locator(`tr[data-job="${second.id}"]`).waitFor();
    expect(await page.inputValue('input[name=groupKey]')).toBe('typed, not submitted');

    const later = (await q.enqueue({ n: 3 }, { delayMs: HOUR }))!;
    await open(page, fast.url, `job/ui_live/${later.id}`, '[data-testid=why][data-code~=delayed]');
    await q.jobs.promote(later.id);
    await page.locator('[data-testid=why]:not([data-code~=delayed])').waitFor();
    expect(await page.locator('h1 [data-status]').innerText()).toBe('ready');

    await open(page, fast.url, 'groups/ui_live', 'tr[data-group="g1"]');
    await q.enqueue({ n: 4 }, { groupKey: 'g2' });
    await page.locator('tr[data-group="g2"]').waitFor();
    await open(
      page,
      fast.url,
      'groups/ui_live?key=g1',
      `[data-testid=group-table] tr[data-job="${first.id}"]`,
    );
    const behind = (await q.enqueue({ n: 5 }, { groupKey: 'g1' }))!;
    await page.locator(`[data-testid=group-table] tr[data-job="${behind.id}"] [data-role=blocked]`).waitFor();

    const dq = await db.arbiter.createQueue('ui_deadlive');
    await dq.enqueueMany([{ payload: { d: 1 } }, { payload: { d: 2 } }]);
    const [a, b] = await dq.claim({ limit: 2 });
    await dq.dlq.move(a!, 'first failure');
    await open(page, fast.url, 'dlq?queue=ui_deadlive', 'tr[data-dead]');
    await page.check('tr[data-dead] input[type=checkbox]');
    await dq.dlq.move(b!, 'second failure');
    await eventually(
      async () => (await page.locator('tr[data-dead]').count()) === 2,
      'new dead letter shown',
    );
    // The selection survives the refresh.
    expect(await page.locator('tr[data-dead] input:checked').count()).toBe(1);
    expect(await page.locator('[data-testid=selected-count]').innerText()).toBe('1 selected');
  });

  it('keeps relative times current between refreshes', async () => {
    const q = await db.arbiter.createQueue('ui_rel');
    const soon = (await q.enqueue({ n: 1 }, { delayMs: 4_000 }))!;
    await open(page, slow.url, `job/ui_rel/${soon.id}`, '[data-testid=why] [data-rel]');
    const rel = page.locator('[data-testid=why] li[data-code=delayed] [data-rel]');
    const before = await rel.innerText();
    expect(before).toMatch(/\(in \d s\)/);
    // The page does not refresh (a minute between polls), yet the text follows the clock.
    await eventually(async () => /ago|now/.test(await rel.innerText()), 'the delay to pass', 15_000);
  });

  it('raised no dialog, page error or CSP violation', () => {
    expect(watch.dialogs).toEqual([]);
    expect(watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });
});

describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: alerts and dead letters', () => {
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

  it('opens dead letters of every queue from the nav, filters them, shows one, and retries all matching', async () => {
    for (const name of ['ui_da', 'ui_db']) {
      const q = await db.arbiter.createQueue(name);
      await q.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ payload: { name, i }, groupKey: `k${i}` })));
      for (const job of await q.claim({ limit: 3 })) await q.dlq.move(job, `attempts exhausted (2): ${name}`);
    }
    await open(page, server.url, 'overview', 'tr[data-queue="ui_da"]');
    await page.click('header.top nav a[data-view=dlq]');
    await page.waitForSelector('[data-testid=dlq-table] tr[data-dead]');
    const queuesShown = await page.$$eval('[data-testid=dlq-table] tr[data-dead]', (rows) =>
      rows.map((r) => r.getAttribute('data-queue')),
    );
    expect(new Set(queuesShown)).toEqual(new Set(['ui_da', 'ui_db']));
    // Attempts made, without the job's own maxAttempts beside an "attempts exhausted (2)" error.
    const attempts = await page.$$eval('[data-testid=dlq-table] [data-k=attempts]', (c) =>
      c.map((x) => x.textContent),
    );
    expect(attempts.every((a) => a === '1')).toBe(true);
    expect(await page.locator('[data-testid=dlq-table]').innerText()).not.toMatch(/\d+\/\d+/);

    // Filters: one queue, one group.
    await page.selectOption('select[name=queue]', 'ui_db');
    await page.fill('[data-testid=dlq-filters] input[name=groupKey]', 'k1');
    await page.click('[data-testid=dlq-filters] button[type=submit]');
    await page.waitForURL(/groupKey=k1/);
    await eventually(async () => (await page.locator('tr[data-dead]').count()) === 1, 'filtered list');
    expect(await page.locator('tr[data-dead]').getAttribute('data-queue')).toBe('ui_db');

    // The dead letter's own page.
    await page.click('tr[data-dead] [data-testid=dead-link]');
    await page.waitForSelector('[data-view=dead] [data-testid=last-error]');
    expect(await page.locator('[data-testid=last-error]').innerText()).toBe('attempts exhausted (2): ui_db');
    expect(await page.locator('[data-testid=attempts]').innerText()).toBe('1');
    expect(await page.locator('[data-testid=payload]').innerText()).toContain('"k1"'.replace('k1', 'ui_db'));

    // Retry all matching a filter (queue ui_da), after an in-page confirmation.
    await open(page, server.url, 'dlq?queue=ui_da', 'tr[data-dead]');
    await page.click('[data-testid=retry-all]');
    const confirm = page.locator('[data-testid=confirm]');
    await confirm.waitFor();
    expect(await confirm.innerText()).toContain('Retry all 3 dead letters matching these filters?');
    expect(await db.arbiter.queue('ui_da').dlq.count()).toBe(3);
    await page.click('[data-testid=confirm-yes]');
    await eventually(async () => (await db.arbiter.queue('ui_da').dlq.count()) === 0, 'retry all');
    expect(await db.arbiter.queue('ui_da').jobs.count()).toBe(3);
    expect(await db.arbiter.queue('ui_db').dlq.count()).toBe(3);
    await page.waitForSelector('[data-testid=dlq-table] td[colspan]');
  });

  it('raised no dialog, page error or CSP violation', () => {
    expect(watch.dialogs).toEqual([]);
    expect(watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });
});
