import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

const XSS = '<img src=x onerror=alert(1)>';

// R7 in a real browser: hostile payloads and error texts render as text, the CSP holds on every view,
// and hideArgsByDefault keeps payloads out of list views.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: security', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;
  let hidden: UiServer;
  let locked: UiServer;
  const ids: Record<'plain' | 'failed' | 'group' | 'dead', string> = {
    plain: '',
    failed: '',
    group: '',
    dead: '',
  };

  beforeAll(async () => {
    const q = await db.arbiter.createQueue('xss');
    // Each claim below finds exactly one claimable job, so the fixtures are deterministic.
    ids.failed = (await q.enqueue({ note: 'fails' }, { groupKey: 'g' }))!.id;
    const [first] = await q.claim({ workerId: XSS });
    await q.retry(first!, { delayMs: 3_600_000, error: `Error: ${XSS}` });
    await q.enqueue({ note: XSS }, { maxAttempts: 1 });
    const [dead] = await q.claim();
    await q.dlq.move(dead!, `dead: ${XSS}`);
    ids.plain = (await q.enqueue({ note: XSS, nested: { html: `</td>${XSS}` } }))!.id;
    ids.group = (await q.enqueue({ note: 'grouped' }, { groupKey: XSS }))!.id;
    expect(await q.dlq.count()).toBe(1);
    ids.dead = (await q.dlq.list()).items[0]!.id;
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid) VALUES ($1, '{xss}', $1, 1)`,
      [XSS],
    );
    server = await startUiServer({ arbiter: db.arbiter });
    hidden = await startUiServer(
      { arbiter: db.arbiter, readOnly: true },
      { hideArgsByDefault: true, readOnly: true },
    );
    locked = await startUiServer({ arbiter: db.arbiter, auth: { token: 'ui-secret-token' } });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hidden?.close();
    await locked?.close();
  });

  const noInjection = async (p: Page) => {
    expect(await p.locator('img').count()).toBe(0);
    expect(await p.locator('[onerror]').count()).toBe(0);
  };

  it('renders hostile payloads, error texts, group keys and worker ids as text on every view', async () => {
    const views: [string, string][] = [
      ['overview', 'tr[data-queue="xss"]'],
      ['jobs/xss', 'tr[data-job]'],
      [`job/xss/${ids.plain}`, '[data-testid=payload]'],
      [`job/xss/${ids.failed}`, '[data-testid=last-error]'],
      [`job/xss/${ids.group}`, '[data-testid=why]'],
      [`groups/xss?key=${encodeURIComponent(XSS)}`, '[data-testid=group-table]'],
      ['dlq/xss', 'tr[data-dead]'],
      ['dlq', 'tr[data-dead]'],
      [`dead/xss/${ids.dead}`, '[data-testid=last-error]'],
      ['workers', '[data-testid=workers-table]'],
    ];
    for (const [hash, ready] of views) {
      await open(page, server.url, hash, ready);
      await noInjection(page);
      if (hash !== 'overview') {
        expect(await page.locator('main').innerText(), hash).toContain(XSS);
      }
    }
    await page.screenshot({ path: '/tmp/arbiter-ui-xss.png', fullPage: true });
    expect(watch.dialogs).toEqual([]);
  });

  it('sends a CSP without unsafe-inline and triggers no CSP violation on any view', async () => {
    const res = await fetch(`${server.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    for (const hash of [
      'overview',
      'jobs/xss',
      `job/xss/${ids.failed}`,
      'groups/xss?key=g',
      'dlq/xss',
      'dlq',
      `dead/xss/${ids.dead}`,
      'workers',
    ]) {
      await open(page, server.url, hash, `[data-view="${hash.split(/[/?]/)[0]}"]`);
    }
    // Only the overview's /metrics probe may 404 (this server has no metrics registry).
    const problems = watch.consoleErrors.filter((e) => !/status of 404/.test(e));
    expect(problems).toEqual([]);
    expect(watch.consoleErrors.join('\n')).not.toMatch(/Content Security Policy|Refused to/);
    expect(watch.dialogs).toEqual([]);
  });

  it('hideArgsByDefault keeps payloads out of list views until asked; readOnly hides actions', async () => {
    await open(page, hidden.url, 'jobs/xss', 'tr[data-job]');
    const cells = page.locator('tr[data-job] td.payload');
    const n = await cells.count();
    expect(n).toBeGreaterThan(0);
    expect(await page.locator('tr[data-job] td.payload[data-hidden=true]').count()).toBe(n);
    expect(await page.locator('main').innerText()).not.toContain('grouped');
    expect(await page.isChecked('#show-payloads')).toBe(false);
    await page.screenshot({ path: '/tmp/arbiter-ui-hidden.png', fullPage: true });

    await open(page, hidden.url, 'dlq/xss', 'tr[data-dead]');
    expect(await page.locator('tr[data-dead] td.payload[data-hidden=true]').count()).toBe(1);
    expect(await page.locator('[data-testid=bulk-retry], [data-testid=retry-all]').count()).toBe(0); // readOnly
    await open(page, hidden.url, `dead/xss/${ids.dead}`, '[data-testid=show-payload]');
    expect(await page.locator('[data-testid=payload]').count()).toBe(0);
    expect(await page.locator('[data-testid=retry], [data-testid=delete]').count()).toBe(0); // readOnly

    await open(page, hidden.url, `job/xss/${ids.group}`, '[data-testid=show-payload]');
    expect(await page.locator('[data-testid=payload]').count()).toBe(0);
    expect(await page.locator('[data-testid=cancel], [data-testid=suspend]').count()).toBe(0); // readOnly
    await page.click('[data-testid=show-payload]');
    expect(await page.locator('[data-testid=payload]').innerText()).toContain('grouped');

    // The header switch reveals them for this session; the default server shows them from the start.
    await open(page, hidden.url, 'jobs/xss', 'tr[data-job]');
    await page.check('#show-payloads');
    await page.waitForSelector('tr[data-job] td.payload:not([data-hidden])');
    await open(page, server.url, 'jobs/xss', 'tr[data-job]');
    expect(await page.locator('tr[data-job] td.payload[data-hidden=true]').count()).toBe(0);
    await noInjection(page);
  });

  it('asks for credentials when the API answers 401 and sends them as a bearer token', async () => {
    const p = await watchedPage(browser, { dialogs: [], consoleErrors: [] });
    await open(p, locked.url, 'overview', '#login');
    await p.fill('#login input', 'ui-secret-token');
    await p.click('#login button');
    await p.waitForSelector('tr[data-queue="xss"]');
    // Kept for the tab's session only (sessionStorage), so a reload stays signed in.
    await p.reload();
    await p.waitForSelector('tr[data-queue="xss"]');
    expect(await p.locator('#login').count()).toBe(0);
    await p.close();
  });
});
