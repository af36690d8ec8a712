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
    expect(watch.consoleErrors).toEqual([]);
  });
});
