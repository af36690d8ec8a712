import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

const QUEUES = 120;
const PAGE = 50;
const name = (i: number) => `pg_q_${String(i).padStart(3, '0')}`;

// With many queues the overview shows one page of them (keyset, name order) and each refresh re-reads
// only that page: a refresh costs the same at 1,000 queues as at 50.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: the overview pages through queues', () => {
  const db = useTestDb();
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, overviewCacheMs: 0 }), { pollMs: 300 });
  const overviewRequests: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < QUEUES; i++) await db.arbiter.createQueue(name(i));
    ui.page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/overview') overviewRequests.push(u.search);
    });
  });

  const rowNames = () =>
    ui.page
      .locator('[data-testid=queues-table] tbody tr[data-queue]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue')));
  const refreshes = async () => Number(await ui.page.locator('body').getAttribute('data-refreshes'));

  it('renders one page of queues, refreshes only that ui.page, and walks to the next page and back', async () => {
    await open(ui.page, ui.server.url, 'overview', `tr[data-queue="${name(0)}"]`);
    const first = await rowNames();
    expect(first).toEqual(Array.from({ length: PAGE }, (_, i) => name(i)));
    expect(await ui.page.locator('[data-testid=overview-prev]').isDisabled()).toBe(true);
    expect(await ui.page.locator('[data-testid=totals-scope]').innerText()).toContain('this page');

    // Refreshes happen, each asks for one ui.page, and the table never grows past it.
    const before = await refreshes();
    await eventually(async () => (await refreshes()) >= before + 2, 'two refreshes');
    expect(await rowNames()).toEqual(first);
    expect(overviewRequests.length).toBeGreaterThanOrEqual(3);
    for (const search of overviewRequests)
      expect(new URLSearchParams(search).get('limit')).toBe(String(PAGE));

    // Page 2: the next 50 names, and a queue there is reachable (its link opens its jobs).
    await ui.page.locator('[data-testid=overview-next]').click();
    await ui.page.locator(`tr[data-queue="${name(PAGE)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(Array.from({ length: PAGE }, (_, i) => name(PAGE + i)));
    expect(await ui.page.locator('[data-testid=overview-pager]').getAttribute('data-page')).toBe('2');
    const mark = overviewRequests.length;
    await eventually(async () => overviewRequests.length >= mark + 2, 'page 2 refreshed');
    for (const search of overviewRequests.slice(mark)) {
      expect(new URLSearchParams(search).get('cursor')).toBeTruthy(); // page 2 refreshes page 2 only
    }
    expect((await rowNames()).length).toBe(PAGE);

    // Page 3 is the last: 20 queues, no Next.
    await ui.page.locator('[data-testid=overview-next]').click();
    await ui.page.locator(`tr[data-queue="${name(QUEUES - 1)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(Array.from({ length: QUEUES - 2 * PAGE }, (_, i) => name(2 * PAGE + i)));
    expect(await ui.page.locator('[data-testid=overview-next]').isDisabled()).toBe(true);

    // Back to page 2 with the browser's Back, then page 1 with Previous.
    await ui.page.goBack();
    await ui.page.locator(`tr[data-queue="${name(PAGE)}"]`).waitFor({ timeout: 10_000 });
    expect((await rowNames())[0]).toBe(name(PAGE));
    expect(await ui.page.locator('[data-testid=overview-pager]').getAttribute('data-page')).toBe('2');
    await ui.page.locator('[data-testid=overview-prev]').click();
    await ui.page.locator(`tr[data-queue="${name(0)}"]`).waitFor({ timeout: 10_000 });
    expect(await rowNames()).toEqual(first);

    // A queue of page 2, reached through the pager, opens its jobs ui.page.
    await ui.page.locator('[data-testid=overview-next]').click();
    const target = name(PAGE + 20);
    await ui.page.locator(`tr[data-queue="${target}"] a`).first().click();
    await ui.page.waitForURL((u) => u.hash === `#/jobs/${target}`);
    await ui.page.locator(`[data-view=jobs] h1`).waitFor({ timeout: 10_000 });
    expect(await ui.page.locator('[data-view=jobs] h1').innerText()).toContain(target);

    // /metrics is not mounted here: the chart asks once, gets 404 and stops asking.
    expect(ui.watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    expect(ui.watch.dialogs).toEqual([]);
  });

  it('chooses among 120 queues with a search box of at most 50 suggestions, not a 120-option list', async () => {
    const options = () =>
      ui.page
        .locator('#queue-suggestions option')
        .evaluateAll((os) => os.map((o) => o.getAttribute('value')));
    const biggestSelect = async () =>
      Math.max(
        0,
        ...(await ui.page
          .locator('select')
          .evaluateAll((ss) => ss.map((s) => s.querySelectorAll('option').length))),
      );

    await open(ui.page, ui.server.url, `jobs/${name(70)}`, '[data-view=jobs] [data-testid=queue-picker]');
    const picker = ui.page.locator('[data-testid=queue-picker]');
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
    await ui.page.waitForURL((u) => u.hash === `#/jobs/${name(115)}`);
    await ui.page.locator('[data-view=jobs] [data-testid=queue-picker]').waitFor();
    await ui.page.locator('[data-testid=queue-picker]').fill('pg_no_such_queue');
    await ui.page.locator('[data-testid=queue-picker]').press('Enter');
    await ui.page
      .locator('[data-testid=toast]')
      .filter({ hasText: 'No queue named pg_no_such_queue' })
      .waitFor();
    expect(new URL(ui.page.url()).hash).toBe(`#/jobs/${name(115)}`);

    // The other queue choosers (dead letters, search, charts, cron) are search boxes too.
    for (const view of ['dlq', 'search', 'charts', 'cron']) {
      await open(ui.page, ui.server.url, view, `[data-view=${view}] input[data-queue-search]`);
      expect(await biggestSelect()).toBeLessThanOrEqual(50);
    }
    // The dead-letter filter takes a typed queue.
    await open(ui.page, ui.server.url, 'dlq', '[data-view=dlq] input[data-queue-search]');
    await ui.page.locator('[data-testid=dlq-filters] input[name=queue]').fill(name(99));
    await ui.page.locator('[data-testid=dlq-filters] input[name=queue]').press('Enter');
    await ui.page.waitForURL(
      (u) => new URLSearchParams(u.hash.split('?')[1] ?? '').get('queue') === name(99),
    );
  });
});
