import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { HAS_CHROMIUM, open } from './browser.js';
import { useDashboardInBrowser } from './server.js';

// Real clicks in Chromium: jobs selected in a queue's list and acted on in bulk, checked in the job rows.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: bulk job actions', () => {
  const db = useTestDb();
  const HOUR = 3_600_000;
  const ui = useDashboardInBrowser(() => ({ arbiter: db.arbiter, overviewCacheMs: 500 }), { pollMs: 700 });

  /** The job rows as the database has them now. */
  async function jobs(queue: string) {
    const items = (await db.arbiter.queue(queue).jobs.list({ limit: 1000 })).items;
    return new Map(items.map((j) => [j.id, j]));
  }
  const select = (id: string) => ui.page.locator(`[data-testid=select-job][data-id="${id}"]`).check();

  it('promotes, suspends, resumes and cancels the selected jobs', async () => {
    const q = db.arbiter.queue('bulk_ui');
    await db.arbiter.createQueue('bulk_ui');
    const made = await q.enqueueMany([
      { payload: 1, delayMs: HOUR },
      { payload: 2, delayMs: HOUR },
      { payload: 3, delayMs: HOUR },
      { payload: 4 },
    ]);
    const [a, b, c, d] = made.map((j) => j!.id) as [string, string, string, string];
    await open(ui.page, ui.server.url, 'jobs/bulk_ui', `[data-testid=select-job][data-id="${a}"]`);
    expect(await ui.page.locator('[data-testid=bulk-promote]').isDisabled()).toBe(true);

    // Retry now: a and b become due; c stays scheduled.
    await select(a);
    await select(b);
    expect(await ui.page.locator('[data-testid=bulk-count]').innerText()).toBe('2 selected');
    await ui.page.locator('[data-testid=bulk-promote]').click();
    await ui.page.waitForSelector('[data-testid=toast]:has-text("2 changed")');
    let now = await jobs('bulk_ui');
    expect([a, b, c].map((id) => now.get(id)!.runAt.getTime() <= Date.now())).toEqual([true, true, false]);
    // The list was re-read: a and b show as ready, and nothing is selected any more.
    await ui.page.waitForSelector(`tr[data-job="${a}"] .badge:has-text("ready")`);
    expect(await ui.page.locator('[data-testid=bulk-count]').innerText()).toBe('0 selected');

    await select(a);
    await select(c);
    await ui.page.locator('[data-testid=bulk-suspend]').click();
    await ui.page.waitForSelector('[data-testid=toast]:has-text("2 changed")');
    now = await jobs('bulk_ui');
    expect([a, b, c, d].map((id) => now.get(id)!.suspended)).toEqual([true, false, true, false]);

    await ui.page.waitForSelector(`tr[data-job="${a}"] .badge:has-text("suspended")`);
    await select(a);
    await select(b); // not suspended: skipped
    await ui.page.locator('[data-testid=bulk-resume]').click();
    await ui.page.waitForSelector('[data-testid=toast]:has-text("1 changed")');
    now = await jobs('bulk_ui');
    expect([a, b, c, d].map((id) => now.get(id)!.suspended)).toEqual([false, false, true, false]);

    // Cancel asks first; declining changes nothing.
    await ui.page.waitForSelector(`tr[data-job="${a}"] .badge:has-text("ready")`);
    await ui.page.locator('[data-testid=select-page]').check();
    expect(await ui.page.locator('[data-testid=bulk-count]').innerText()).toBe('4 selected');
    await ui.page.locator('[data-testid=bulk-cancel]').click();
    await ui.page.locator('[data-testid=confirm] button:has-text("Cancel") >> nth=1').click();
    expect((await jobs('bulk_ui')).size).toBe(4);
    await ui.page.locator('[data-testid=bulk-cancel]').click();
    await ui.page.locator('[data-testid=confirm-yes]').click();
    await ui.page.waitForSelector('[data-testid=toast]:has-text("4 changed")');
    expect((await jobs('bulk_ui')).size).toBe(0);
    await ui.page.waitForSelector('text=No jobs match.');
    expect(ui.watch.dialogs).toEqual([]);
    expect(ui.watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });

  it('acts on every job matching the filters, at most 1,000 per click, and says whether more match', async () => {
    const q = db.arbiter.queue('bulk_filter_ui');
    await db.arbiter.createQueue('bulk_filter_ui');
    await q.enqueueMany([
      ...Array.from({ length: 1003 }, (_, i) => ({ payload: i, delayMs: HOUR })),
      { payload: 'ready' },
    ]);
    await open(
      ui.page,
      ui.server.url,
      'jobs/bulk_filter_ui?status=scheduled&limit=10',
      '[data-testid=bulk-suspend-filter]',
    );
    await ui.page.locator('[data-testid=bulk-suspend-filter]').click();
    await ui.page.waitForSelector(
      '[data-testid=toast]:has-text("1000 changed of 1000 matching; more than 1000 match")',
    );
    expect(await q.jobs.count({ status: 'suspended' })).toBe(1000);
    expect(await q.jobs.count({ status: 'scheduled' })).toBe(3);
    expect(await q.jobs.count({ status: 'ready' })).toBe(1);

    // The next click takes the rest: the suspended ones no longer match "scheduled".
    await ui.page.waitForSelector('[data-testid=page-no]');
    await ui.page.locator('[data-testid=bulk-suspend-filter]').click();
    await ui.page.waitForSelector('[data-testid=toast]:has-text("3 changed of 3 matching")');
    expect(await q.jobs.count({ status: 'suspended' })).toBe(1003);
    expect(await q.jobs.count({ status: 'ready' })).toBe(1);
    expect(await ui.page.locator('[data-testid=toast]').innerText()).not.toContain('more than');
  });

  it('duplicates a job from its page and links the copy', async () => {
    const q = db.arbiter.queue('dup_ui');
    await db.arbiter.createQueue('dup_ui');
    const orig = (await q.enqueue({ to: 'a@b.c', n: 1 }, { groupKey: 'g1', priority: 5, maxAttempts: 7 }))!;
    await open(ui.page, ui.server.url, `job/dup_ui/${orig.id}`, '[data-testid=duplicate]');
    await ui.page.locator('[data-testid=duplicate]').click();
    const link = ui.page.locator('[data-testid=duplicated] a');
    await link.waitFor();
    const copyId = await ui.page.locator('[data-testid=duplicated]').getAttribute('data-job');
    expect(copyId).not.toBe(orig.id);
    const copy = (await q.jobs.get(copyId!))!;
    expect(copy).toMatchObject({
      payload: { to: 'a@b.c', n: 1 },
      groupKey: 'g1',
      priority: 5,
      maxAttempts: 7,
      parentId: null,
    });
    expect(await q.jobs.count()).toBe(2);
    expect(await q.jobs.get(orig.id)).toMatchObject({ payload: { to: 'a@b.c', n: 1 }, priority: 5 });
    await link.click();
    await ui.page.waitForSelector(`h1:has-text("Job ${copyId}")`);
  });
});
