import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

const QUEUES = 120;
const PAGE = 50;
const name = (i: number) => `pg_q_${String(i).padStart(3, '0')}`;

// With many queues the overview shows one page of them (keyset, name order) and each refresh re-reads
// only that page: a refresh costs the same at 1,000 queues as at 50.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: the overview pages through queues', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;
  const overviewRequests: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < QUEUES; i++) await db.arbiter.createQueue(name(i));
    server = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 0 }, { pollMs: 300 });
    browser = await launch();
    page = await watchedPage(browser, watch);
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/overview') overviewRequests.push(u.search);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const rowNames = () =>
    page
      .locator('[data-testid=queues-table] tbody tr[data-queue]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue')));
  const refreshes = async () => Number(await page.locator('body').getAttribute('data-refreshes'));

  it('renders one page of queues, refreshes only that page, and walks to the next page and back', async () => {
    await open(page, server.url, 'overview', `tr[data-queue="${name(0)}"]`);
    const first = await rowNames();
    expect(first).toEqual(Array.from({ length: PAGE }, (_, i) => name(i)));
    expect(await page.locator('[data-testid=overview-prev]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=totals-scope]').innerText()).toContain('this page');

    // Refreshes happen, each asks for one page, and the table never grows past it.
    const before = await refreshes();
    await eventually(async () => (await refreshes()) >= before + 2, 'two refreshes');
    expect(await rowNames()).toEqual(first);
    expect(overviewRequests.length).toBeGreaterThanOrEqual(3);
    for (const search of overviewRequests)
      expect(new URLSearchParams(search).get('limit')).toBe(String(PAGE));

    // Page 2: the next 50 names, and a queue there is reachable (its link opens its jobs).
    await page.locator('[data-testid=overview-next]').click();
    await page.locator(`tr[data-queue="${name(PAGE)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(Array.from({ length: PAGE }, (_, i) => name(PAGE + i)));
    expect(await page.locator('[data-testid=overview-pager]').getAttribute('data-page')).toBe('2');
    const mark = overviewRequests.length;
    await eventually(async () => overviewRequests.length >= mark + 2, 'page 2 refreshed');
    for (const search of overviewRequests.slice(mark)) {
      expect(new URLSearchParams(search).get('cursor')).toBeTruthy(); // page 2 refreshes page 2 only
    }
    expect((await rowNames()).length).toBe(PAGE);

    // Page 3 is the last: 20 queues, no Next.
    await page.locator('[data-testid=overview-next]').click();
    await page.locator(`tr[data-queue="${name(QUEUES - 1)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(Array.from({ length: QUEUES - 2 * PAGE }, (_, i) => name(2 * PAGE + i)));
    expect(await page.locator('[data-testid=overview-next]').isDisabled()).toBe(true);

    // Back to page 2 with the browser's Back, then page 1 with Previous.
    await page.goBack();
    await page.locator(`tr[data-queue="${name(PAGE)}"]`).waitFor({ timeout: 10_000 });
    expect((await rowNames())[0]).toBe(name(PAGE));
    expect(await page.locator('[data-testid=overview-pager]').getAttribute('data-page')).toBe('2');
    await page.locator('[data-testid=overview-prev]').click();
    await page.locator(`tr[data-queue="${name(0)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(first);

    // A queue of page 2, reached through the pager, opens its jobs page.
    await page.locator('[data-testid=overview-next]').click();
    const target = name(PAGE + 20);
    await page.locator(`tr[data-queue="${target}"] a`).first().click();
    await page.waitForURL((u) => u.hash === `#/jobs/${target}`);
    await page.locator(`[data-view=jobs] h1`).waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-view=jobs] h1').innerText()).toContain(target);

    // /metrics is not mounted here: the chart asks once, gets 404 and stops asking.
    expect(watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    expect(watch.dialogs).toEqual([]);
  });

  it('chooses among 120 queues with a search box of at most 50 suggestions, not a 120-option list', async () => {
    const options = () =>
      page.locator('#queue-suggestions option').evaluateAll((os) => os.map((o) => o.getAttribute('value')));
    const biggestSelect = async () =>
      Math.max(
        0,
        ...(await page
          .locator('select')
          .evaluateAll((ss) => ss.map((s) => s.querySelectorAll('option').length))),
      );

    await open(page, server.url, `jobs/${name(70)}`, '[data-view=jobs] [data-testid=queue-picker]');
    const picker = page.locator('[data-testid=queue-picker]');
    expect(await picker.evaluate((el) => el.tagName)).toBe('INPUT');
    expect(await picker.inputValue()).toBe(name(70));
    await picker.fill('pg_q_11');
    expect(await options()).toEqual(Array.from({ length: 10 }, (_, i) => name(110 + i)));
    await picker.fill('');
    expect((await options()).length).toBe(50);
    expect(await biggestSelect()).toBeLessThanOrEqual(50);
    // Choosing a queue far down the list opens its jobs; an unknown name says so and stays.
    await picker.fill(name(115));
    await picker.press('Enter');
    await page.waitForURL((u) => u.hash === `#/jobs/${name(115)}`);
    await page.locator('[data-view=jobs] [data-testid=queue-picker]').waitFor();
    await page.locator('[data-testid=queue-picker]').fill('pg_no_such_queue');
    await page.locator('[data-testid=queue-picker]').press('Enter');
    await page
      .locator('[data-testid=toast]')
      .filter({ hasText: 'No queue named pg_no_such_queue' })
      .waitFor();
    expect(new URL(page.url()).hash).toBe(`#/jobs/${name(115)}`);

    // The other queue choosers (dead letters, search, charts, cron) are search boxes too.
    for (const view of ['dlq', 'search', 'charts', 'cron']) {
      await open(page, server.url, view, `[data-view=${view}] input[data-queue-search]`);
      expect(await biggestSelect()).toBeLessThanOrEqual(50);
    }
    // The dead-letter filter takes a typed queue.
    await open(page, server.url, 'dlq', '[data-view=dlq] input[data-queue-search]');
    await page.locator('[data-testid=dlq-filters] input[name=queue]').fill(name(99));
    await page.locator('[data-testid=dlq-filters] input[name=queue]').press('Enter');
    await page.waitForURL((u) => new URLSearchParams(u.hash.split('?')[1] ?? '').get('queue') === name(99));
  });
});
