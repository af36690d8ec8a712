import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queueStatsAdd, WAIT_BOUNDS_MS } from '../../src/db/queries/queue-stats.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { eventually, HAS_CHROMIUM, launch, open } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

/** Relative luminance (0 black … 1 white) of a computed `rgb(r, g, b)` colour. */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => Number(v) / 255) as [
    number,
    number,
    number,
  ];
  const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

// The Charts view (throughput history from the rollup), the Workers view (what each worker runs now) and
// the theme toggle, in Chromium, against a real database and a real worker.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: charts, workers, theme', () => {
  const db = useTestDb();
  let browser: Browser;
  let server: UiServer;
  const Q = 'ui_charts_queue_with_a_long_name';

  beforeAll(async () => {
    await db.arbiter.createQueue(Q);
    await db.arbiter.createQueue('ui_charts_other');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const hist = (slot: number, n: number) =>
      WAIT_BOUNDS_MS.map(() => 0)
        .concat(0)
        .map((_, i) => (i === slot ? n : 0));
    // Three minutes of history: 120, 240 and 60 completions (2, 4 and 1 per second), waits in slot 9 (5 s).
    await queueStatsAdd(
      db.arbiter.db,
      db.schema,
      [120, 240, 60].map((completed, i) => ({
        queue: Q,
        minute: new Date(minute - (3 - i) * 60_000),
        completed,
        failed: i,
        dead: 0,
        waitHist: hist(9, completed + i),
      })),
    );
    await queueStatsAdd(db.arbiter.db, db.schema, [
      {
        queue: 'ui_charts_other',
        minute: new Date(minute),
        completed: 6,
        failed: 0,
        dead: 0,
        waitHist: hist(0, 6),
      },
    ]);
    server = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 0 }, { pollMs: 500 });
    browser = await launch();
  });
  afterEach(stopAll);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const newPage = (o: { width?: number; scheme?: 'light' | 'dark' } = {}): Promise<Page> =>
    browser.newPage({ viewport: { width: o.width ?? 1280, height: 860 }, colorScheme: o.scheme ?? 'light' });

  it("charts a queue's history (rates left, waits right), which a reload keeps; every queue summed", async () => {
    const page = await newPage();
    await open(page, server.url, `charts/${Q}`, '[data-testid=history-table] tbody tr td.num');
    expect(await page.textContent('[data-testid=total-completed]')).toBe('420');
    expect(await page.textContent('[data-testid=total-failed]')).toBe('3');
    const rows = await page.$$eval('[data-testid=history-table] tbody tr', (trs) =>
      trs.map((tr) => Array.prototype.map.call(tr.children, (td: { textContent: string }) => td.textContent)),
    );
    // Newest first: 60, 240, 120 completions; 1.00 / 4.00 / 2.00 per second; waits up to 5 s.
    expect(rows.map((r) => [r[1], r[4], r[6]])).toEqual([
      ['60', '1.00', '≤ 5 s'],
      ['240', '4.00', '≤ 5 s'],
      ['120', '2.00', '≤ 5 s'],
    ]);
    const axes = async () => ({
      left: await page.getAttribute('[data-testid=history-chart]', 'data-left-max'),
      right: await page.getAttribute('[data-testid=history-chart]', 'data-right-max'),
      points: await page.getAttribute('[data-testid=history-chart]', 'data-points'),
    });
    await eventually(async () => (await axes()).points === '3', 'the chart drawn');
    // The rate (4/s at most) and the wait (5 s) each get their own axis.
    expect(await axes()).toEqual({ left: '5', right: '5', points: '3' });
    // A reload reads the same history from the database: nothing lives only in the page.
    await page.reload();
    await page.waitForSelector('[data-testid=history-table] tbody tr td.num');
    expect(await page.textContent('[data-testid=total-completed]')).toBe('420');
    // Every queue, summed.
    await page.selectOption('[data-testid=charts-queue]', '');
    await eventually(
      async () => (await page.textContent('[data-testid=total-completed]')) === '426',
      'summed',
    );
    expect(page.url()).toMatch(/#\/charts$/);
    // A longer period reads wider buckets.
    await page.selectOption('[data-testid=charts-period]', '1440');
    await eventually(async () => page.url().endsWith('#/charts?minutes=1440'), 'period in the address');
    await page.waitForSelector('[data-testid=history-table] tbody tr td.num');
    expect(await page.textContent('[data-testid=total-completed]')).toBe('426');
    await page.close();
  });

  it('shows each live worker: what it runs now, per queue running/limit, and links to the jobs', async () => {
    const q = db.arbiter.queue(Q);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = await startWorker(db.arbiter, {
      concurrency: 4,
      queues: { [Q]: { handler: () => gate, concurrency: 2 }, ui_charts_other: { handler: () => {} } },
    });
    const jobs = await q.enqueueMany([{ payload: { a: 1 } }, { payload: { a: 2 } }, { payload: { a: 3 } }]);
    const page = await newPage();
    await open(page, server.url, 'workers', `tr[data-worker="${w.id}"]`);
    await eventually(
      async () =>
        (await page.textContent(`tr[data-worker="${w.id}"] [data-testid=worker-running]`))?.startsWith(
          '2 of 4',
        ),
      'two jobs running in the workers view',
    );
    expect(await page.textContent(`tr[data-worker="${w.id}"] [data-testid=worker-queues]`)).toContain(
      `${Q} 2/2`,
    );
    const shown = await page.$$eval('[data-testid=running-table] tr[data-job]', (trs) =>
      trs.map((tr) => tr.getAttribute('data-job')),
    );
    const ids = jobs.map((j) => j!.id);
    expect(shown).toHaveLength(2);
    for (const id of shown) expect(ids).toContain(id);
    // A running job's link opens its page.
    await page.click(`[data-testid=running-table] tr[data-job="${shown[0]}"] a`);
    await page.waitForSelector('[data-view=job] [data-testid=why]');
    expect(page.url()).toContain(`#/job/${Q}/${shown[0]}`);
    release();
    await waitFor(async () => (await count(db.pool, db.schema, Q)) === 0, 'jobs finished');
    await open(page, server.url, 'workers', `tr[data-worker="${w.id}"]`);
    await eventually(
      async () =>
        (await page.textContent(`tr[data-worker="${w.id}"] [data-testid=worker-running]`))?.startsWith(
          '0 of 4',
        ),
      'nothing running after the jobs finished',
    );
    await page.close();
  });

  it('toggles the theme (auto, dark, light), kept across reloads, over the system preference', async () => {
    const page = await newPage({ scheme: 'light' });
    const bg = async () =>
      luminance(
        await page.$eval('body', (b) => b.ownerDocument.defaultView!.getComputedStyle(b).backgroundColor),
      );
    await open(page, server.url, 'charts', '[data-testid=history-chart]');
    expect(await page.textContent('[data-testid=theme-toggle]')).toBe('theme: auto');
    expect(await bg()).toBeGreaterThan(0.8);
    await page.click('[data-testid=theme-toggle]');
    expect(await page.textContent('[data-testid=theme-toggle]')).toBe('theme: dark');
    expect(await bg()).toBeLessThan(0.05);
    await page.reload();
    await page.waitForSelector('[data-testid=history-chart]');
    expect(await page.textContent('[data-testid=theme-toggle]')).toBe('theme: dark');
    expect(await bg()).toBeLessThan(0.05);
    await page.close();
    // Light chosen wins over a dark system; back to auto follows the system again.
    const dark = await newPage({ scheme: 'dark' });
    const bgDark = async () =>
      luminance(
        await dark.$eval('body', (b) => b.ownerDocument.defaultView!.getComputedStyle(b).backgroundColor),
      );
    await open(dark, server.url, 'workers', '[data-testid=workers-table]');
    await dark.evaluate("localStorage.setItem('arbiter.theme', 'light')");
    await dark.reload();
    await dark.waitForSelector('[data-testid=workers-table]');
    expect(await bgDark()).toBeGreaterThan(0.8);
    await dark.click('[data-testid=theme-toggle]'); // light → auto
    expect(await dark.textContent('[data-testid=theme-toggle]')).toBe('theme: auto');
    expect(await bgDark()).toBeLessThan(0.05);
    expect(await dark.evaluate("localStorage.getItem('arbiter.theme')")).toBe(null);
    await dark.close();
  });

  it('fits the charts and workers views in 390 px', async () => {
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid, info)
       VALUES ('a-worker-with-a-long-id:12345:abcdef', $1, 'a-rather-long-hostname.example.internal', 4242, $2)`,
      [
        [Q],
        JSON.stringify({
          concurrency: 16,
          running: 1,
          prefetched: 3,
          queues: [{ name: Q, concurrency: 16, prefetch: 4, running: 1 }],
          jobs: [{ queue: Q, id: '123456789', attempt: 1, claimedAt: new Date().toISOString() }],
        }),
      ],
    );
    const page = await newPage({ width: 390 });
    for (const [hash, ready] of [
      [`charts/${Q}`, '[data-testid=history-table] tbody tr td.num'],
      ['workers', '[data-testid=running-table] tr[data-job]'],
    ] as const) {
      await open(page, server.url, hash, ready);
      const width = await page.$eval('html', (el) => el.scrollWidth);
      expect(width, `${hash}: page width`).toBeLessThanOrEqual(390);
      const tables = await page.$$eval('.table-wrap', (els) =>
        els.map((e) => [e.scrollWidth, e.clientWidth]),
      );
      expect(tables.length, hash).toBeGreaterThan(0);
      for (const [scroll, client] of tables)
        expect(scroll, `${hash}: table width`).toBeLessThanOrEqual(client! + 1);
      await page.screenshot({ path: `/tmp/arbiter-ui-390-${hash.split('/')[0]}.png`, fullPage: true });
    }
    await page.close();
  });

  it('searches across queues by id, payload and error text, and links each hit to its page', async () => {
    const q = db.arbiter.queue('ui_charts_other');
    const jobs = await q.enqueueMany([
      { payload: { customer: { id: 'cust-42' }, n: 1 } },
      { payload: { customer: { id: 'cust-7' }, n: 2 } },
    ]);
    const [held] = await q.claim();
    await q.dlq.move(held!, 'card declined by the issuer');
    const page = await newPage();
    await open(page, server.url, 'search', '[data-testid=search-form]');
    await page.fill('input[name=payload]', '{"customer":{"id":"cust-42"}}');
    await page.click('[data-testid=search-form] button[type=submit]');
    await page.waitForSelector('[data-testid=search-results] tr[data-hit]');
    expect(page.url()).toContain('#/search?payload=');
    const hits = await page.$$eval('[data-testid=search-results] tr[data-hit]', (trs) =>
      trs.map((tr) => `${tr.getAttribute('data-hit')} ${tr.getAttribute('data-source')}`),
    );
    // The first job was claimed and dead-lettered: found as a dead letter.
    expect(hits).toEqual([`ui_charts_other:${jobs[0]!.id} dead-letter`]);
    expect(await page.textContent('[data-testid=search-note]')).toContain('newest 1,000 rows of each table');
    // By error text, then open the dead letter's page from the hit.
    await open(page, server.url, 'search?error=DECLINED', '[data-testid=search-results] tr[data-hit]');
    await page.click('[data-testid=search-results] tr[data-hit] a');
    await page.waitForSelector('[data-testid=last-error]');
    expect(await page.textContent('[data-testid=last-error]')).toContain('card declined');
    // By id, in one queue: the live job.
    await open(
      page,
      server.url,
      `search?id=${jobs[1]!.id}&queue=ui_charts_other`,
      '[data-testid=search-results] tr[data-hit]',
    );
    expect(await page.getAttribute('[data-testid=search-results] tr[data-hit]', 'data-source')).toBe('job');
    expect(await page.textContent('[data-testid=search-note]')).toContain('through the indexes');
    await page.setViewportSize({ width: 390, height: 860 });
    expect(await page.$eval('html', (el) => el.scrollWidth)).toBeLessThanOrEqual(390);
    await page.close();
  });
});
