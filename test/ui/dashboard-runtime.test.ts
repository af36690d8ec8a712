import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

// Runtime operations in Chromium against a real PostgreSQL and a running worker.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: runtime operations', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;

  beforeAll(async () => {
    server = await startUiServer({ arbiter: db.arbiter }, { pollMs: 700 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await stopAll();
    await browser?.close();
    await server?.close();
  });

  it("the job page's Cancel stops a running job's handler (reason cancelled)", async () => {
    const q = await db.arbiter.createQueue('ui_cancel');
    const started = new Set<string>();
    const reasons = new Map<string, string>();
    await startWorker(db.arbiter, {
      queues: {
        ui_cancel: {
          leaseMs: 60_000,
          handler: async (job, { signal }) => {
            started.add(job.id);
            await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
            reasons.set(job.id, (signal.reason as { reason: string }).reason);
          },
        },
      },
    });
    const job = (await q.enqueue({ n: 1 }))!;
    await waitFor(() => started.has(job.id), 'running');
    await open(page, server.url, `job/ui_cancel/${job.id}`, '[data-testid=cancel]');
    await page.locator('[data-testid=cancel]').click();
    const bar = page.locator('[data-testid=confirm]');
    expect(await bar.innerText()).toContain('It is running');
    await page.locator('[data-testid=confirm-yes]').click();
    await waitFor(() => reasons.get(job.id), 'the handler aborted');
    expect(reasons.get(job.id)).toBe('cancelled');
    expect(await q.jobs.get(job.id)).toBeNull();
    // A refresh of the job page racing the cancel may find the job gone (404): nothing else may fail.
    expect(watch.consoleErrors.filter((e) => !e.includes('status of 404'))).toEqual([]);
  });

  it('the cron page adds, changes, pauses, resumes and removes schedules', async () => {
    await db.arbiter.createQueue('ui_cron');
    await open(page, server.url, 'cron', '[data-testid=cron-form]');
    // Only what this page does counts (the previous test's job page may have polled a cancelled job).
    watch.consoleErrors.length = 0;
    const form = page.locator('[data-testid=cron-form]');
    await form.locator('input[name=name]').fill('ui-nightly');
    await form.locator('select[name=queue]').selectOption('ui_cron');
    await form.locator('input[name=pattern]').fill('0 3 * * *');
    await form.locator('input[name=tz]').fill('Europe/Paris');
    await form.locator('input[name=payload]').fill('{"kind":"nightly"}');
    await form.locator('select[name=missed]').selectOption('catch-up');
    await form.locator('input[name=catchUpMax]').fill('4');
    await page.locator('[data-testid=cron-submit]').click();
    const row = page.locator('tr[data-cron="ui-nightly"]');
    await row.waitFor();
    expect(await db.arbiter.cron.get('ui-nightly')).toMatchObject({
      queue: 'ui_cron',
      pattern: '0 3 * * *',
      tz: 'Europe/Paris',
      payload: { kind: 'nightly' },
      missed: 'catch-up',
      catchUpMax: 4,
      source: 'runtime',
      paused: false,
    });

    await row.locator('[data-testid=cron-edit]').click();
    expect(await page.locator('[data-testid=cron-form-title]').innerText()).toBe('Change ui-nightly');
    await form.locator('input[name=pattern]').fill('30 2 * * *');
    await page.locator('[data-testid=cron-submit]').click();
    await waitFor(async () => (await db.arbiter.cron.get('ui-nightly'))!.pattern === '30 2 * * *', 'changed');

    await page.locator('tr[data-cron="ui-nightly"] [data-testid=cron-pause]').click();
    await page.locator('tr[data-cron="ui-nightly"][data-paused="true"]').waitFor();
    expect((await db.arbiter.cron.get('ui-nightly'))!.paused).toBe(true);
    await page.locator('tr[data-cron="ui-nightly"] [data-testid=cron-resume]').click();
    await page.locator('tr[data-cron="ui-nightly"][data-paused="false"]').waitFor();
    expect((await db.arbiter.cron.get('ui-nightly'))!.paused).toBe(false);

    // A bad expression is refused with the API's message, and nothing is written.
    await form.locator('input[name=name]').fill('ui-bad');
    await form.locator('input[name=pattern]').fill('every day');
    await page.locator('[data-testid=cron-submit]').click();
    await waitFor(
      async () => (await page.locator('.toast').allInnerTexts()).some((t) => t.includes('INVALID_ARGUMENT')),
      'error toast',
    );
    expect(await db.arbiter.cron.get('ui-bad')).toBeNull();

    await page.locator('tr[data-cron="ui-nightly"] [data-testid=cron-remove]').click();
    await page.locator('[data-testid=confirm-yes]').click();
    await waitFor(async () => (await db.arbiter.cron.get('ui-nightly')) === null, 'removed');
    await page.locator('[data-testid=cron-table] td.muted').waitFor();
    expect(watch.dialogs).toEqual([]);
    // The refused request above is the one failed load the browser reports.
    expect(watch.consoleErrors.filter((e) => !e.includes('status of 400'))).toEqual([]);
  });

  it("a queue's jobs page shows its retention and changes it", async () => {
    await db.arbiter.createQueue('ui_keep');
    await open(page, server.url, 'jobs/ui_keep', '[data-testid=retention]');
    const shown = page.locator('[data-testid=retention]');
    expect(await shown.innerText()).toBe(
      'history max age: 14d \u00b7 history max count: 1,000,000 \u00b7 dead letter max age: 30d \u00b7 dead letter max count: no limit \u00b7 stats max age: 7d',
    );
    watch.consoleErrors.length = 0;
    await page.locator('[data-testid=retention-edit]').click();
    const form = page.locator('[data-testid=retention-form]');
    await form.locator('input[name=historyMaxAgeMs]').fill('2d');
    await form.locator('input[name=historyMaxCount]').fill('none');
    await form.locator('input[name=deadLetterMaxCount]').fill('5000');
    await form.locator('input[name=statsMaxAgeMs]').fill('30d');
    await page.locator('[data-testid=retention-save]').click();
    await waitFor(
      async () => (await db.arbiter.getQueue('ui_keep'))?.retention.historyMaxAgeMs === 2 * 86_400_000,
      'retention changed',
    );
    expect((await db.arbiter.getQueue('ui_keep'))!.retention).toEqual({
      historyMaxAgeMs: 2 * 86_400_000,
      historyMaxCount: null,
      deadLetterMaxAgeMs: 30 * 86_400_000,
      deadLetterMaxCount: 5000,
      statsMaxAgeMs: 30 * 86_400_000,
    });
    await waitFor(async () => (await shown.innerText()).includes('history max age: 2d'), 'the page shows it');
    expect(await shown.innerText()).toContain('stats max age: 30d');
    // A stats age shorter than a minute is refused by the API, shown as a toast, and changes nothing.
    await page.locator('[data-testid=retention-edit]').click();
    await form.locator('input[name=statsMaxAgeMs]').fill('30s');
    await page.locator('[data-testid=retention-save]').click();
    await waitFor(
      async () => (await page.locator('.toast').allInnerTexts()).some((t) => t.includes('statsMaxAgeMs')),
      'error toast',
    );
    expect((await db.arbiter.getQueue('ui_keep'))!.retention.statsMaxAgeMs).toBe(30 * 86_400_000);
    watch.consoleErrors.length = 0;
    // A malformed limit is refused in the page, before any request.
    await page.locator('[data-testid=retention-edit]').click();
    await form.locator('input[name=historyMaxCount]').fill('12d');
    await page.locator('[data-testid=retention-save]').click();
    await waitFor(
      async () => (await page.locator('.toast').allInnerTexts()).some((t) => t.includes('history max count')),
      'toast',
    );
    expect((await db.arbiter.getQueue('ui_keep'))!.retention.historyMaxCount).toBeNull();
    expect(watch.consoleErrors).toEqual([]);
  });
});
