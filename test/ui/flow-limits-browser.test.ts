import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

// Real clicks in Chromium: a queue's limits set from the overview, checked in the database.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: flow-control limits', () => {
  const db = useTestDb();
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, overviewCacheMs: 500 }), { pollMs: 700 });

  it('sets, refuses a bad value without changing anything, and removes limits', async () => {
    await db.arbiter.createQueue('lim_ui');
    await open(ui.page, ui.server.url, 'overview', 'tr[data-queue="lim_ui"]');
    await ui.page.locator('tr[data-queue="lim_ui"] [data-testid=queue-limits]').click();
    await ui.page.waitForSelector('[data-testid=limits-panel][data-queue="lim_ui"][data-state=done]');
    const panel = ui.page.locator('[data-testid=limits-panel][data-queue="lim_ui"]');
    expect(await panel.locator('[data-testid=limits-now]').innerText()).toContain('no cap; no rate limit');

    await panel.locator('[data-testid=limit-max-in-flight]').fill('3');
    await panel.locator('[data-testid=limit-rate]').fill('50');
    await panel.locator('[data-testid=limits-save]').click();
    await eventually(
      async () => (await db.arbiter.getQueueLimits('lim_ui')).maxInFlight === 3,
      'limits saved',
    );
    expect(await db.arbiter.getQueueLimits('lim_ui')).toEqual({
      maxInFlight: 3,
      rate: { perSecond: 50, burst: 50, cost: 1 },
    });
    await ui.page.waitForSelector('[data-testid=limits-now]:has-text("at most 3 in flight")');

    await panel.locator('[data-testid=limit-max-in-flight]').fill('-2');
    await panel.locator('[data-testid=limits-save]').click();
    await ui.page.waitForSelector('[data-testid=limits-panel][data-state=error]');
    expect((await db.arbiter.getQueueLimits('lim_ui')).maxInFlight).toBe(3);

    await ui.page.locator('[data-testid=limit-max-in-flight]').fill('');
    await ui.page.locator('[data-testid=limit-rate]').fill('');
    await ui.page.locator('[data-testid=limits-save]').click();
    await eventually(
      async () => (await db.arbiter.getQueueLimits('lim_ui')).maxInFlight === null,
      'limits removed',
    );
    expect(await db.arbiter.getQueueLimits('lim_ui')).toEqual({ maxInFlight: null, rate: null });
    expect(ui.watch.dialogs).toEqual([]);
    // The refused save answers 400; the page's own 404s (the favicon) are known to the other suites.
    expect(ui.watch.consoleErrors.filter((e) => !/status of (400|404)/.test(e))).toEqual([]);
  });
});
