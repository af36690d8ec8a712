import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

// The job page lists a job's durable steps and what it waits for, and its why box says so.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: durable steps', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;

  beforeAll(async () => {
    server = await startUiServer(
      { arbiter: db.arbiter, auth: { token: 'tok-0123456789abcdef' } },
      { pollMs: 60_000 },
    );
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterEach(stopAll);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the steps and the event the job waits for', async () => {
    const q = await db.arbiter.createQueue<{ id: string }>('ui_steps');
    await startWorker(db.arbiter, {
      queues: {
        ui_steps: {
          handler: async (job: Job<{ id: string }>, ctx) => {
            await ctx.step('reserve stock', () => ({ sku: 'tea', qty: 2 }));
            await ctx.waitFor(`shipped:${job.payload.id}`, { timeoutMs: 3_600_000 });
          },
        },
      },
    });
    const job = (await q.enqueue({ id: 'x1' }))!;
    await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    await page.goto('about:blank');
    await page.goto(`${server.url}/`);
    await page.evaluate("sessionStorage.setItem('arbiter.auth', 'Bearer tok-0123456789abcdef')");
    watch.consoleErrors.length = 0;
    await open(
      page,
      server.url,
      `job/ui_steps/${job.id}`,
      '[data-testid=steps-table] [data-step="reserve stock"]',
    );
    expect(await page.locator('[data-testid=steps-table] [data-step="reserve stock"]').innerText()).toContain(
      '{"qty":2,"sku":"tea"}',
    );
    expect(await page.locator('[data-testid=job-waiting]').innerText()).toMatch(
      /^Waiting for event shipped:x1 until /,
    );
    expect(await page.locator('body').innerText()).toContain('Waiting for event "shipped:x1" until');
    await page.screenshot({ path: '/tmp/steps-job-page.png', fullPage: true });
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.dialogs).toEqual([]);
  });
});
