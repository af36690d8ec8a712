import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

// A flow drawn as a graph in Chromium: each node's state as it changes, links to its jobs, the waiting
// node's "why", and Cancel flow.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: flows', () => {
  const db = useTestDb();
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, overviewCacheMs: 500 }), { pollMs: 500 });

  it('draws the graph with node states and job links, follows the flow live, and cancels it', async () => {
    const q = await db.arbiter.createQueue<{ step: string }>('ui_flow');
    const flow = await db.arbiter.flow({
      name: 'order 9',
      nodes: {
        reserve: { queue: q, payload: { step: 'reserve' } },
        charge: { queue: q, payload: { step: 'charge' }, dependsOn: ['reserve'] },
        ship: { queue: q, payload: { step: 'ship' }, dependsOn: ['reserve'] },
        notify: { queue: q, payload: { step: 'notify' }, dependsOn: ['charge', 'ship'] },
      },
    });
    await open(ui.page, ui.server.url, `flow/${flow.id}`, '[data-testid=flow-graph] g[data-node=notify]');
    const state = (node: string) =>
      ui.page.locator(`[data-testid=flow-graph] g[data-node=${node}]`).getAttribute('data-state');
    expect(await state('reserve')).toBe('ready');
    expect(await state('notify')).toBe('waiting');
    // One arrow per dependency.
    expect(await ui.page.locator('[data-testid=flow-graph] path.edge').count()).toBe(4);
    expect(await ui.page.locator('[data-testid=flow-graph] path[data-edge="charge->notify"]').count()).toBe(
      1,
    );
    expect(await ui.page.locator('[data-testid=flow-nodes] tr[data-node=notify]').innerText()).toContain(
      'waiting for charge, ship',
    );

    // The first node runs: the page follows without a reload.
    const [job] = await q.claim();
    await q.ack(job!, { result: { reserved: 3 } });
    await ui.page
      .locator('[data-testid=flow-graph] g[data-node=reserve][data-state=succeeded]')
      .waitFor({ timeout: 10_000 });
    await ui.page
      .locator('[data-testid=flow-graph] g[data-node=charge][data-state=ready]')
      .waitFor({ timeout: 10_000 });
    expect(await ui.page.locator('[data-testid=flow-nodes] tr[data-node=reserve]').innerText()).toContain(
      '{"reserved":3}',
    );

    // A node links to its job; the job page links back to the flow and says what it waits for.
    await ui.page.locator('[data-testid=flow-graph] a[data-job-link=notify]').click();
    await ui.page.waitForSelector('[data-testid=flow-link]', { timeout: 10_000 });
    expect(await ui.page.locator('.why').first().innerText()).toContain(
      'Waiting for dependencies charge, ship',
    );
    await ui.page.locator('[data-testid=flow-link]').click();
    await ui.page.waitForSelector('[data-testid=flow-graph]', { timeout: 10_000 });

    // The list, then Cancel flow.
    await open(ui.page, ui.server.url, 'flows', `[data-testid=flows-table] tr[data-flow="${flow.id}"]`);
    expect(await ui.page.locator(`tr[data-flow="${flow.id}"]`).innerText()).toContain('order 9');
    await open(ui.page, ui.server.url, `flow/${flow.id}`, '[data-testid=cancel-flow]');
    await ui.page.locator('[data-testid=cancel-flow]').click();
    await ui.page.locator('[data-testid=confirm-yes]').click();
    await eventually(
      async () => (await db.arbiter.flows.get(flow.id)).state === 'cancelled',
      'flow cancelled',
    );
    await ui.page.locator('[data-flow-state=cancelled]').waitFor({ timeout: 10_000 });
    expect(await state('notify')).toBe('cancelled');
    expect(ui.watch.consoleErrors).toEqual([]);
    expect(ui.watch.dialogs).toEqual([]);
  });
});
