import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type ArbiterMetrics } from '../../src/metrics/index.js';
import { WorkerEventEmitter } from '../../src/worker/index.js';
import type { Job } from '../../src/types.js';
import { useTestDb } from '../support/db.js';
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

// How the dashboard looks: a phone-width screen, dark mode, and a chart whose counts and rates do not
// share an axis. Every view of a realistic queue is opened at 390 px.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: layout', () => {
  const db = useTestDb();
  let browser: Browser;
  let server: UiServer;
  let metrics: ArbiterMetrics;
  const events = new WorkerEventEmitter();
  const ids = { job: '', grouped: '', dead: '' };

  beforeAll(async () => {
    const q = await db.arbiter.createQueue('ui_layout_with_a_long_queue_name');
    const long = 'x'.repeat(300);
    const jobs = await q.enqueueMany(
      Array.from({ length: 300 }, (_, i) => ({
        payload: { i, note: long, customer: { id: `customer-${i}`, email: `someone-${i}@example.com` } },
        groupKey: i % 3 ? `customer-with-a-rather-long-group-key-${i % 7}` : null,
      })),
    );
    ids.grouped = jobs[1]!.id;
    const [gone] = await q.claim({ workerId: 'a-worker-with-a-long-id:12345:abcdef' });
    await q.dlq.move(gone!, `Error: upstream rejected the request ${long}`);
    ids.dead = (await q.dlq.list()).items[0]!.id;
    ids.job = (await q.jobs.list({ filter: { groupKey: null }, limit: 1 })).items[0]!.id;
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid)
       VALUES ('a-worker-with-a-long-id:12345:abcdef', '{ui_layout_with_a_long_queue_name}', 'a-rather-long-hostname.example.internal', 4242)`,
    );
    metrics = createMetrics({ arbiter: db.arbiter, intervalMs: 0 });
    metrics.attach(events);
    server = await startUiServer({ arbiter: db.arbiter, metrics, overviewCacheMs: 0 }, { pollMs: 500 });
    browser = await launch();
  });
  afterAll(async () => {
    metrics?.stop();
    await browser?.close();
    await server?.close();
  });

  const newPage = (o: { width?: number; scheme?: 'light' | 'dark' } = {}): Promise<Page> =>
    browser.newPage({ viewport: { width: o.width ?? 1280, height: 860 }, colorScheme: o.scheme ?? 'light' });

  it('fits every view in 390 px: no sideways scrolling of the page or of a table', async () => {
    const page = await newPage({ width: 390 });
    const Q = 'ui_layout_with_a_long_queue_name';
    const views: [string, string][] = [
      ['overview', `tr[data-queue="${Q}"]`],
      [`jobs/${Q}`, 'tr[data-job]'],
      [`job/${Q}/${ids.grouped}`, '[data-testid=why]'],
      [`groups/${Q}`, 'tr[data-group]'],
      [`groups/${Q}?key=customer-with-a-rather-long-group-key-1`, '[data-testid=group-table] tr[data-job]'],
      ['dlq', 'tr[data-dead]'],
      [`dead/${Q}/${ids.dead}`, '[data-testid=last-error]'],
      ['workers', 'tr[data-worker]'],
    ];
    for (const [hash, ready] of views) {
      await open(page, server.url, hash, ready);
      // After a refresh too: the cells a refresh paints must be labelled like the first ones.
      const seen = Number(await page.getAttribute('body', 'data-refreshes'));
      await eventually(
        async () => Number(await page.getAttribute('body', 'data-refreshes')) > seen,
        `${hash} refresh`,
      );
      const width = await page.$eval('html', (el) => el.scrollWidth);
      expect(width, `${hash}: page width`).toBeLessThanOrEqual(390);
      const tables = await page.$$eval('.table-wrap', (els) =>
        els.map((e) => [e.scrollWidth, e.clientWidth]),
      );
      // Every view but a dead letter's own page has a table.
      if (!hash.startsWith('dead/')) expect(tables.length, hash).toBeGreaterThan(0);
      for (const [scroll, client] of tables)
        expect(scroll, `${hash}: table width`).toBeLessThanOrEqual(client! + 1);
      // Each cell says which column it is, since the header row is hidden at this width.
      const unlabelled = await page.$$eval(
        '.table-wrap tbody td:not([colspan])',
        (tds) => tds.filter((td) => td.textContent!.trim() !== '' && !td.hasAttribute('data-label')).length,
      );
      expect(unlabelled, hash).toBe(0);
      await page.screenshot({ path: `/tmp/arbiter-ui-390-${hash.split(/[/?]/)[0]}.png`, fullPage: true });
    }
    await page.close();
  });

  it('follows the system’s dark mode', async () => {
    const colours = async (scheme: 'light' | 'dark') => {
      const page = await newPage({ scheme });
      await open(page, server.url, `job/ui_layout_with_a_long_queue_name/${ids.job}`, '[data-testid=why]');
      // One evaluation: the page refreshes every 500 ms and replaces its panels.
      const [body, panel, pre] = await page.$eval('html', (root) => {
        const doc = root.ownerDocument;
        const style = (sel: string) => doc.defaultView!.getComputedStyle(doc.querySelector(sel)!);
        const own = style('body').backgroundColor;
        // The page's background: the body's, or the root's when the body has none.
        const bg = own === 'rgba(0, 0, 0, 0)' ? style('html').backgroundColor : own;
        return [
          [bg, style('body').color],
          style('.panel').backgroundColor,
          style('pre').backgroundColor,
        ] as const;
      });
      await page.screenshot({ path: `/tmp/arbiter-ui-${scheme}.png`, fullPage: true });
      await page.close();
      const out = {
        bg: luminance(body[0]!),
        ink: luminance(body[1]!),
        panel: luminance(panel),
        pre: luminance(pre),
      };
      expect(
        Object.values(out).every((v) => Number.isFinite(v)),
        `${scheme}: ${JSON.stringify([body, panel, pre])}`,
      ).toBe(true);
      return out;
    };
    const light = await colours('light');
    const dark = await colours('dark');
    expect(light.bg).toBeGreaterThan(0.8);
    expect(light.ink).toBeLessThan(0.1);
    expect(dark.bg).toBeLessThan(0.05);
    expect(dark.panel).toBeLessThan(0.05);
    expect(dark.pre).toBeLessThan(0.05);
    expect(dark.ink).toBeGreaterThan(0.7);
  });

  it('draws counts and completions per second on separate axes', async () => {
    const page = await newPage();
    const job = { id: '1' } as Job;
    const completing = setInterval(() => {
      for (let i = 0; i < 3; i++) events.emit('job:succeeded', { queue: 'ui_layout', job, durationMs: 5 });
    }, 100);
    try {
      await open(page, server.url, 'overview', '[data-testid=chart]');
      const chart = page.locator('[data-testid=chart]');
      // Once a rate is known: about 30/s on the right axis while 299 claimable jobs scale the left one.
      const axes = (await eventually(
        async () => {
          const right = Number(await chart.getAttribute('data-right-max'));
          const left = Number(await chart.getAttribute('data-left-max'));
          return right > 1 ? { left, right } : null;
        },
        'a completion rate on the chart',
        15_000,
      ))!;
      expect(axes.left).toBeGreaterThanOrEqual(200);
      expect(axes.right).toBeLessThanOrEqual(200);
      expect(axes.left / axes.right).toBeGreaterThanOrEqual(2);
      expect(await page.locator('.legend [data-axis=right]').innerText()).toContain('right axis');
      await page.screenshot({ path: '/tmp/arbiter-ui-chart.png', fullPage: true });
    } finally {
      clearInterval(completing);
      await page.close();
    }
  });
});
