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
      perKey: null,
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
    expect(await db.arbiter.getQueueLimits('lim_ui')).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: null,
    });
    expect(ui.watch.dialogs).toEqual([]);
    // The refused save answers 400; the page's own 404s (the favicon) are known to the other suites.
    expect(ui.watch.consoleErrors.filter((e) => !/status of (400|404)/.test(e))).toEqual([]);
  });

  it("sets per-key defaults and a key override from the page, and shows each key's use and why", async () => {
    const q = await db.arbiter.createQueue('keys_ui');
    const acme = await q.enqueueMany([
      { payload: { n: 1 }, limitKey: 'acme' },
      { payload: { n: 2 }, limitKey: 'acme' },
    ]);
    await q.enqueue({ n: 3 }, { limitKey: 'globex' });
    // Fair share first, from the library: turning keys on builds the queue's key index CONCURRENTLY, which
    // waits for every older transaction in the database (other suites' on a shared machine).
    await db.arbiter.setQueueLimits('keys_ui', { perKey: {} });
    await open(ui.page, ui.server.url, 'overview', 'tr[data-queue="keys_ui"]');
    await ui.page.locator('tr[data-queue="keys_ui"] [data-testid=queue-limits]').click();
    await ui.page.waitForSelector('[data-testid=limits-panel][data-queue="keys_ui"][data-state=done]');
    const panel = ui.page.locator('[data-testid=limits-panel][data-queue="keys_ui"]');
    expect(await panel.locator('[data-testid=limit-per-key]').isChecked()).toBe(true);
    await ui.page.waitForSelector('[data-testid=keys-table] tr[data-key="acme"]');

    await panel.locator('[data-testid=limit-key-max-in-flight]').fill('1');
    await panel.locator('[data-testid=limits-save]').click();
    await eventually(
      async () => (await db.arbiter.getQueueLimits('keys_ui')).perKey?.maxInFlight === 1,
      'per-key limit saved',
    );
    expect(await db.arbiter.getQueueLimits('keys_ui')).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: { maxInFlight: 1, rate: null },
    });
    await ui.page.waitForSelector('[data-testid=limits-now]:has-text("per key: at most 1 in flight")');
    await ui.page.waitForSelector('[data-testid=keys-table] tr[data-key="acme"]');

    // One job of each key in flight: acme is at its limit with a job ready.
    expect(await q.claim({ limit: 10 })).toHaveLength(2);
    await panel.locator('[data-testid=keys-refresh]').click();
    const row = (key: string, k: string) => panel.locator(`tr[data-key="${key}"] [data-k=${k}]`);
    await eventually(async () => (await row('acme', 'in-flight').innerText()) === '1 / 1', 'acme in flight');
    expect(await row('acme', 'ready').innerText()).toBe('1');
    expect(await row('globex', 'in-flight').innerText()).toBe('1 / 1');
    expect(await row('globex', 'weight').innerText()).toBe('1');

    // A key's override: edit globex, give it room and a weight.
    await panel.locator('tr[data-key="globex"] [data-testid=key-edit]').click();
    await ui.page.waitForSelector('[data-testid=key-form][data-key="globex"]');
    await panel.locator('[data-testid=key-max-in-flight]').fill('2');
    await panel.locator('[data-testid=key-weight]').fill('3');
    await panel.locator('[data-testid=key-save]').click();
    await eventually(
      async () => (await db.arbiter.getKeyLimits('keys_ui', 'globex')).weight === 3,
      'key override saved',
    );
    expect(await db.arbiter.getKeyLimits('keys_ui', 'globex')).toEqual({
      maxInFlight: 2,
      rate: null,
      weight: 3,
    });
    await ui.page.waitForSelector('[data-testid=keys-box][data-saved="globex"][data-state=done]');
    expect(await row('globex', 'in-flight').innerText()).toBe('1 / 2');
    expect(await row('globex', 'weight').innerText()).toBe('3');

    // A bad weight is refused and changes nothing.
    await panel.locator('tr[data-key="globex"] [data-testid=key-edit]').click();
    await ui.page.waitForSelector('[data-testid=key-form][data-key="globex"]');
    await panel.locator('[data-testid=key-weight]').fill('0');
    await panel.locator('[data-testid=key-save]').click();
    await ui.page.waitForSelector('[data-testid=keys-box][data-state=error]');
    expect((await db.arbiter.getKeyLimits('keys_ui', 'globex')).weight).toBe(3);

    // The why box of acme's waiting job names the key at its limit.
    const waiting = acme[1]!;
    await open(ui.page, ui.server.url, `job/keys_ui/${waiting.id}`, '[data-testid=why]');
    await ui.page.waitForSelector('[data-testid=why][data-code~="key-cap"]');
    expect(await ui.page.locator('[data-testid=why]').innerText()).toContain(
      'Key "acme" is at its limit 1/1',
    );

    // Keys off from the page: the Keys table goes.
    await open(ui.page, ui.server.url, 'overview', 'tr[data-queue="keys_ui"]');
    await ui.page.locator('tr[data-queue="keys_ui"] [data-testid=queue-limits]').click();
    await ui.page.waitForSelector(
      '[data-testid=limits-panel][data-queue="keys_ui"] [data-testid=keys-table]',
    );
    await panel.locator('[data-testid=limit-per-key]').uncheck();
    await panel.locator('[data-testid=limits-save]').click();
    await eventually(async () => (await db.arbiter.getQueueLimits('keys_ui')).perKey === null, 'keys off');
    await ui.page.waitForSelector('[data-testid=limits-panel][data-queue="keys_ui"][data-state=saved]');
    expect(await panel.locator('[data-testid=keys-table]').count()).toBe(0);
    expect(ui.watch.dialogs).toEqual([]);
    expect(ui.watch.consoleErrors.filter((e) => !/status of (400|404)/.test(e))).toEqual([]);
  });
});
