import { afterEach, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll } from '../worker/helpers.js';
import { eventually, HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

// The job page follows a running job's report (progress, metadata, log lines) over server-sent events,
// with credentials, and keeps showing it once the job has finished.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: live job reports', () => {
  const db = useTestDb();
  // A page refresh far slower than the test: what changes on the page came over the event stream.
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, auth: { token: 'tok-0123456789abcdef' } }), {
    pollMs: 60_000,
  });
  afterEach(stopAll);

  it('shows progress, meta and logs as the handler reports them, and after the job finished', async () => {
    const q = await db.arbiter.createQueue('ui_report');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await startWorker(db.arbiter, {
      queues: {
        ui_report: {
          handler: async (_job, ctx) => {
            ctx.progress(25);
            ctx.setMeta({ file: 'a.csv' });
            ctx.log('reading a.csv');
            await gate;
            ctx.progress(100);
            ctx.log('all rows written');
          },
        },
      },
    });
    const job = (await q.enqueue({ n: 1 }))!;
    await ui.page.goto('about:blank');
    await ui.page.goto(`${ui.server.url}/`);
    await ui.page.evaluate("sessionStorage.setItem('arbiter.auth', 'Bearer tok-0123456789abcdef')");
    ui.watch.consoleErrors.length = 0; // the 401s of the first load, before the credentials were stored
    await open(
      ui.page,
      ui.server.url,
      `job/ui_report/${job.id}`,
      '[data-testid=report-progress] [data-value="25"]',
    );
    expect(await ui.page.locator('[data-testid=report-meta]').innerText()).toContain('a.csv');
    expect(await ui.page.locator('[data-testid=report-logs] li').allInnerTexts()).toEqual([
      expect.stringContaining('#1 reading a.csv'),
    ]);
    release();
    await ui.page.locator('[data-testid=report-progress] [data-value="100"]').waitFor({ timeout: 10_000 });
    await ui.page.locator('[data-testid=job-report][data-ended=true]').waitFor({ timeout: 10_000 });
    expect(await ui.page.locator('[data-testid=report-logs] li').count()).toBe(2);

    // Reopened after it finished: the job has left the queue, its report is still shown.
    await open(
      ui.page,
      ui.server.url,
      `job/ui_report/${job.id}`,
      '[data-testid=report-progress] [data-value="100"]',
    );
    // The page's /why of a finished job answers 404 (it left the queue); nothing else may fail.
    expect(ui.watch.consoleErrors.filter((e) => !e.includes('404'))).toEqual([]);
    expect(ui.watch.dialogs).toEqual([]);
  });

  it("lists every failed attempt on the job page and on the dead letter's page", async () => {
    const q = await db.arbiter.createQueue('ui_attempts');
    await startWorker(db.arbiter, {
      queues: {
        ui_attempts: {
          backoff: { type: 'linear', delayMs: 1 },
          handler: async (job) => {
            throw new Error(`failure number ${job.attempts}`);
          },
        },
      },
    });
    const job = (await q.enqueue({}, { maxAttempts: 2 }))!;
    const dead = await eventually(async () => (await q.dlq.list()).items[0], 'the dead letter', 15_000);
    await open(
      ui.page,
      ui.server.url,
      `job/ui_attempts/${job.id}`,
      '[data-testid=attempts-table] tr[data-attempt="2"]',
    );
    expect(await ui.page.locator('[data-testid=attempts-table] tbody tr').allInnerTexts()).toEqual([
      expect.stringContaining('failure number 1'),
      expect.stringContaining('failure number 2'),
    ]);
    await open(
      ui.page,
      ui.server.url,
      `dead/ui_attempts/${dead!.id}`,
      '[data-testid=attempts-table] tr[data-attempt="2"]',
    );
  });
});
