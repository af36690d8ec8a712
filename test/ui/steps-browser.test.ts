import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

// The job page lists a job's durable steps and what it waits for, and its why box says so.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: durable steps', () => {
  const db = useTestDb();
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, auth: { token: 'tok-0123456789abcdef' } }), {
    pollMs: 60_000,
  });
  afterEach(stopAll);

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
    await ui.page.goto('about:blank');
    await ui.page.goto(`${ui.server.url}/`);
    await ui.page.evaluate("sessionStorage.setItem('arbiter.auth', 'Bearer tok-0123456789abcdef')");
    ui.watch.consoleErrors.length = 0;
    await open(
      ui.page,
      ui.server.url,
      `job/ui_steps/${job.id}`,
      '[data-testid=steps-table] [data-step="reserve stock"]',
    );
    expect(
      await ui.page.locator('[data-testid=steps-table] [data-step="reserve stock"]').innerText(),
    ).toContain('{"qty":2,"sku":"tea"}');
    expect(await ui.page.locator('[data-testid=job-waiting]').innerText()).toMatch(
      /^Waiting for event shipped:x1 until /,
    );
    expect(await ui.page.locator('body').innerText()).toContain('Waiting for event "shipped:x1" until');
    await ui.page.screenshot({ path: '/tmp/steps-job-page.png', fullPage: true });
    expect(ui.watch.consoleErrors).toEqual([]);
    expect(ui.watch.dialogs).toEqual([]);
  });
});
