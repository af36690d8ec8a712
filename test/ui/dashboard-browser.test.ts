import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { eventually, HAS_CHROMIUM, launch, open, watchedPage, type PageWatch } from './browser.js';
import { startUiServer, type UiServer } from './server.js';

const HOUR = 3_600_000;

// Real clicks in Debian's Chromium against a real PostgreSQL; every action is checked in the database.
describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium: views and actions', () => {
  const db = useTestDb();
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let browser: Browser;
  let page: Page;
  let server: UiServer;
  const rowIds = (p: Page, sel: string, attr: string) =>
    p.$$eval(sel, (rows, a) => rows.map((r) => r.getAttribute(a)!), attr);
  const why = async (queue: string, id: string) => {
    await open(page, server.url, `job/${queue}/${id}`, '[data-testid=why]');
    const el = page.locator('[data-testid=why]');
    return { codes: (await el.getAttribute('data-code'))!.split(' '), text: await el.innerText() };
  };

  beforeAll(async () => {
    server = await startUiServer({ arbiter: db.arbiter, overviewCacheMs: 500 }, { pollMs: 700 });
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('overview shows the live counts of each queue and pauses/resumes a queue', async () => {
    const q = await db.arbiter.createQueue('ov');
    await q.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }, { payload: { n: 3 } }]);
    const [dead, running] = await q.claim({ limit: 2, workerId: 'w-ov', leaseMs: 60_000 });
    await q.dlq.move(dead!, 'boom');
    expect(running).toBeDefined();
    await q.enqueueMany([
      { payload: { n: 4 }, delayMs: HOUR },
      { payload: { n: 5 }, delayMs: HOUR },
    ]);
    await q.enqueue({ n: 6 }, { suspended: true });
    const stats = await q.jobs.stats();
    expect(stats).toMatchObject({ ready: 1, inFlight: 1, scheduled: 2, suspended: 1, dead: 1 });

    await open(page, server.url, 'overview', 'tr[data-queue="ov"]');
    const live = { claimable: stats.ready, inFlight: stats.inFlight, dead: stats.dead, groups: 0, total: 5 };
    for (const [k, v] of Object.entries(live)) {
      const cell = page.locator(`tr[data-queue="ov"] [data-k="${k}"]`);
      expect(await cell.innerText(), k).toBe(String(v));
      expect(await cell.getAttribute('data-kind'), k).toBe('exact');
    }
    const headers = await page.$$eval('[data-testid=queues-table] th', (ths) =>
      ths.map((t) => t.textContent),
    );
    expect(headers).toContain('claimable now');
    // Counts that need a full scan are not polled: absent from the live table, shown on request.
    for (const k of ['scheduled', 'retrying', 'suspended']) {
      expect(await page.locator(`tr[data-queue="ov"] [data-k="${k}"]`).count(), k).toBe(0);
    }
    expect(await page.locator('[data-testid=overview-note]').innerText()).toContain('full scan');
    expect(await page.locator('[data-testid=exact-counts]').isVisible()).toBe(false);
    await page.locator('tr[data-queue="ov"] [data-testid=exact-counts-btn]').click();
    const exact = page.locator('[data-testid=exact-counts][data-queue="ov"][data-state="done"]');
    await exact.waitFor();
    expect(await exact.innerText()).toContain('full scan');
    for (const k of [
      'total',
      'ready',
      'inFlight',
      'scheduled',
      'retrying',
      'suspended',
      'dead',
      'groups',
    ] as const) {
      expect(await exact.locator(`[data-k="${k}"] .v`).innerText(), k).toBe(String(stats[k]));
    }
    // A few polls so the chart has a line, and new work shows up without a reload; the exact counts stay a
    // snapshot (no polling of the full scan).
    await q.enqueueMany([{ payload: { n: 7 } }, { payload: { n: 8 } }]);
    await page.locator('tr[data-queue="ov"] [data-k="claimable"]', { hasText: /^3$/ }).waitFor();
    expect(await exact.locator('[data-k="ready"] .v').innerText()).toBe('1');
    await page.screenshot({ path: '/tmp/arbiter-ui-overview.png', fullPage: true });
    await page.click('[data-testid=exact-counts-close]');
    expect(await page.locator('[data-testid=exact-counts]').isVisible()).toBe(false);

    await page.locator('tr[data-queue="ov"] [data-testid=queue-pause][data-action=pause]').click();
    await eventually(
      async () => (await db.arbiter.listQueues()).find((x) => x.name === 'ov')?.paused,
      'pause',
    );
    const pending = (await q.jobs.list({ filter: { status: 'ready' } })).items[0]!;
    expect((await why('ov', pending.id)).codes).toContain('queue-paused');
    await open(page, server.url, 'overview', 'tr[data-queue="ov"]');
    await page.locator('tr[data-queue="ov"] [data-testid=queue-pause][data-action=resume]').click();
    await eventually(
      async () => (await db.arbiter.listQueues()).find((x) => x.name === 'ov')?.paused === false,
      'resume',
    );
  });

  it('job list walks every page with the cursor and applies filters', async () => {
    const q = await db.arbiter.createQueue('pg');
    const jobs = await q.enqueueMany(
      Array.from({ length: 23 }, (_, n) => ({ payload: { n, kind: n % 2 ? 'odd' : 'even' } })),
    );
    await q.enqueueMany([
      { payload: { late: 1 }, delayMs: HOUR },
      { payload: { late: 2 }, delayMs: HOUR },
    ]);
    await open(page, server.url, 'jobs/pg?status=ready&limit=10', '[data-testid=jobs-table]');
    const seen: string[] = [];
    for (let pageNo = 1; ; pageNo++) {
      await page.waitForSelector(`[data-testid=page-no]:text("page ${pageNo} ")`);
      seen.push(...(await rowIds(page, 'tr[data-job]', 'data-job')));
      if (await page.locator('[data-testid=next-page]').isDisabled()) break;
      await page.locator('[data-testid=next-page]').click();
    }
    expect(seen.sort()).toEqual(jobs.map((j) => j.id).sort());
    await page.locator('[data-testid=prev-page]').click();
    await page.waitForSelector('[data-testid=page-no]:text("page 2 ")');
    await page.screenshot({ path: '/tmp/arbiter-ui-jobs.png', fullPage: true });

    // The filter form: payload contains, then status, then an empty created range.
    await open(page, server.url, 'jobs/pg', '[data-testid=job-filters]');
    await page.fill('input[name=payloadContains]', '{"kind":"odd"}');
    await page.click('[data-testid=job-filters] button[type=submit]');
    await page.waitForURL(/payloadContains/);
    await page.waitForSelector('[data-testid=page-no]:text("11 jobs")');
    await page.selectOption('select[name=status]', 'scheduled');
    await page.fill('input[name=payloadContains]', '');
    await page.click('[data-testid=job-filters] button[type=submit]');
    await page.waitForSelector('[data-testid=page-no]:text("2 jobs")');
    expect(await page.locator('tr[data-job] [data-status=scheduled]').count()).toBe(2);
    const future = new Date(Date.now() + HOUR).toISOString();
    await open(page, server.url, `jobs/pg?createdAfter=${future}`, '[data-testid=page-no]:text("0 jobs")');
  });

  it('cancels, promotes, suspends and resumes jobs', async () => {
    const q = await db.arbiter.createQueue('act');
    const a = (await q.enqueue({ x: 'cancel me' }))!;
    const b = (await q.enqueue({ x: 'promote me' }, { delayMs: HOUR }))!;
    const c = (await q.enqueue({ x: 'suspend me' }))!;

    await open(page, server.url, `job/act/${a.id}`, '[data-testid=cancel]');
    await page.click('[data-testid=cancel]');
    await page.click('[data-testid=confirm-yes]');
    await eventually(async () => (await q.jobs.get(a.id)) === null, 'cancel');
    await page.waitForSelector('[data-testid=jobs-table]');

    expect((await why('act', b.id)).codes).toEqual(['delayed', 'no-worker']);
    await page.click('[data-testid=promote]');
    await eventually(async () => (await q.jobs.get(b.id))?.status === 'ready', 'promote');

    await open(page, server.url, `job/act/${c.id}`, '[data-testid=suspend]');
    await page.click('[data-testid=suspend]');
    await eventually(async () => (await q.jobs.get(c.id))?.suspended === true, 'suspend');
    await page.waitForSelector('[data-testid=why][data-code~="suspended"]');
    await page.click('[data-testid=resume]');
    await eventually(async () => (await q.jobs.get(c.id))?.suspended === false, 'resume');
    await page.waitForSelector('[data-testid=suspend]');
  });

  it('answers "why isn\'t this running?" and shows who holds a group', async () => {
    const q = await db.arbiter.createQueue('why');
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid) VALUES ('worker-ui-1', '{why}', 'box-1', 4242)`,
    );
    const [g1, g2, g3] = await q.enqueueMany(
      [1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'customer-1' })),
    );
    const [claimed] = await q.claim({ workerId: 'worker-ui-1', leaseMs: 10 * 60_000 });
    expect(claimed!.id).toBe(g1!.id);
    const [h1, h2] = await q.enqueueMany([4, 5].map((n) => ({ payload: { n }, groupKey: 'customer-2' })));
    const held = (await q.enqueue({ n: 6 }, { suspended: true }))!;
    const tree = await q.enqueueTree({
      payload: { report: 1 },
      children: [{ payload: { c: 1 } }, { payload: { c: 2 } }],
    });

    let w = await why('why', g2!.id);
    expect(w.codes).toEqual(['group-in-flight']);
    expect(w.text).toContain(`Behind job ${g1!.id} of group "customer-1", in flight on worker worker-ui-1`);
    w = await why('why', g1!.id);
    expect(w.codes).toEqual(['in-flight']);
    expect(w.text).toContain('worker-ui-1');
    w = await why('why', h2!.id);
    expect(w.codes).toEqual(['behind-head']);
    expect(w.text).toContain(`Behind job ${h1!.id}, the next of group "customer-2"`);
    expect((await why('why', held.id)).codes).toEqual(['suspended']);
    w = await why('why', tree.job.id);
    expect(w.codes).toEqual(['waiting-children']);
    expect(w.text).toContain('Waiting for 2 child jobs');
    expect(await page.locator('[data-testid=children-table] tr[data-child]').count()).toBe(2);
    await page.screenshot({ path: '/tmp/arbiter-ui-job.png', fullPage: true });

    const q2 = await db.arbiter.createQueue('why_retry');
    await q2.enqueue({ n: 1 });
    const [r] = await q2.claim({ workerId: 'worker-ui-1' });
    await q2.retry(r!, { delayMs: HOUR, error: 'upstream answered 503' });
    w = await why('why_retry', r!.id);
    expect(w.codes).toEqual(['retry-backoff', 'no-worker']);
    expect(w.text).toContain('upstream answered 503');

    // No live worker: a job behind its group's head names the head, then the missing worker (which is
    // what keeps the head from running too).
    const q3 = await db.arbiter.createQueue('why_nowork');
    const [head, behind] = await q3.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'acct-1' })));
    w = await why('why_nowork', behind!.id);
    expect(w.codes).toEqual(['behind-head', 'no-worker']);
    expect(w.text).toContain(`Behind job ${head!.id}, the next of group "acct-1"`);
    expect(w.text).toContain(`nothing claims job ${head!.id} or this one`);
    expect(await page.locator(`[data-testid=why] li[data-code=behind-head] a`).getAttribute('href')).toBe(
      `#/job/why_nowork/${head!.id}`,
    );
    // A dead-lettered job's page says so and links to its dead letter.
    const [gone] = await q3.claim({ limit: 1 });
    await q3.dlq.move(gone!, 'upstream rejected it');
    w = await why('why_nowork', gone!.id);
    expect(w.codes).toEqual(['dead']);
    expect(w.text).toContain('upstream rejected it');

    await open(page, server.url, 'groups/why?key=customer-1', '[data-testid=group-table]');
    expect(await page.locator(`tr[data-job="${g1!.id}"] [data-role]`).getAttribute('data-role')).toBe('head');
    for (const j of [g2!, g3!]) {
      expect(await page.locator(`tr[data-job="${j.id}"] [data-role]`).getAttribute('data-role')).toBe(
        'blocked',
      );
    }
    expect(await page.locator('[data-testid=group-summary]').innerText()).toContain(`Head: job ${g1!.id}`);
    await page.screenshot({ path: '/tmp/arbiter-ui-groups.png', fullPage: true });

    await open(page, server.url, 'workers', 'tr[data-worker="worker-ui-1"]');
    expect(await page.locator('tr[data-worker="worker-ui-1"]').innerText()).toContain('box-1');
    await page.screenshot({ path: '/tmp/arbiter-ui-workers.png', fullPage: true });
  });

  it('retries and deletes dead letters in bulk after an in-page confirmation', async () => {
    const q = await db.arbiter.createQueue('dl');
    await q.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { n } })));
    for (const j of await q.claim({ limit: 5 })) await q.dlq.move(j, `boom ${JSON.stringify(j.payload)}`);
    expect(await q.dlq.count()).toBe(5);

    await open(page, server.url, 'dlq/dl', 'tr[data-dead]');
    await page.screenshot({ path: '/tmp/arbiter-ui-dlq.png', fullPage: true });
    const ids = await rowIds(page, 'tr[data-dead]', 'data-dead');
    expect(ids).toHaveLength(5);
    for (const id of ids.slice(0, 2)) await page.check(`tr[data-dead="${id}"] input[type=checkbox]`);
    await page.click('[data-testid=bulk-retry]');
    expect(await q.dlq.count()).toBe(5); // nothing happens before the confirmation
    await page.click('[data-testid=confirm-yes]');
    await eventually(async () => (await q.dlq.count()) === 3, 'bulk retry');
    expect((await q.jobs.stats()).total).toBe(2);

    // Not page.waitForFunction with a string: that evaluates code in the page, which our CSP forbids.
    await eventually(async () => (await page.locator('tr[data-dead]').count()) === 3, 'list refreshed');
    await page.check('[data-testid=select-all]');
    await page.click('[data-testid=bulk-delete]');
    await page.click('[data-testid=confirm-yes]');
    await eventually(async () => (await q.dlq.count()) === 0, 'bulk delete');
    expect((await q.jobs.stats()).total).toBe(2);
  });

  it('lists every group with its state and why, pages through them, and opens one', async () => {
    const q = await db.arbiter.createQueue('grp');
    const [busy] = await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'busy' })));
    const [failing] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'failing' })));
    const claimed = await q.claim({ limit: 2, workerId: 'worker-grp', leaseMs: 10 * 60_000 });
    expect(claimed.map((j) => j.id).sort()).toEqual([busy!.id, failing!.id].sort());
    await q.retry(
      claimed.find((j) => j.id === failing!.id)!,
      { delayMs: HOUR, error: 'mail API answered 503' },
    );
    await q.enqueue({ n: 1 }, { groupKey: 'free' });
    await q.enqueue({ n: 1 }, { groupKey: 'later', delayMs: HOUR });

    // From the overview's group count to the queue's groups.
    await open(page, server.url, 'overview', 'tr[data-queue="grp"]');
    expect(await page.locator('tr[data-queue="grp"] [data-k="groups"]').innerText()).toBe('4');
    // Ready counts a group once, by its head, and only when the group can run: "free" (not busy, failing
    // or later), although three more grouped jobs are due.
    expect(await page.locator('tr[data-queue="grp"] [data-k="claimable"]').innerText()).toBe('1');
    expect((await q.jobs.stats()).ready).toBe(4);
    await page.click('tr[data-queue="grp"] [data-k="groups"] a');
    await page.waitForSelector('[data-testid=groups-list] tr[data-group="busy"]');
    await page.screenshot({ path: '/tmp/arbiter-ui-groups-list.png', fullPage: true });
    const states = await page.$$eval('[data-testid=groups-list] tr[data-group]', (rows) =>
      rows.map((r) => [r.getAttribute('data-group'), r.getAttribute('data-state')]),
    );
    expect(states).toEqual([
      ['busy', 'in-flight'],
      ['failing', 'retrying'],
      ['free', 'ready'],
      ['later', 'idle'],
    ]);
    const reason = (g: string) =>
      page.locator(`tr[data-group="${g}"] [data-testid=group-reason]`).innerText();
    expect(await reason('busy')).toContain(`job ${busy!.id} is in flight on worker-grp`);
    expect(await reason('failing')).toContain('mail API answered 503');
    expect(await reason('later')).toContain('is scheduled for');
    expect(await page.locator('tr[data-group="busy"] td').nth(1).innerText()).toBe('3');

    // Pages of two, walked with the Next button.
    await open(page, server.url, 'groups/grp?limit=2', '[data-testid=groups-list] tr[data-group="busy"]');
    expect(await rowIds(page, '[data-testid=groups-list] tr[data-group]', 'data-group')).toEqual([
      'busy',
      'failing',
    ]);
    await page.click('[data-testid=next-page]');
    await page.waitForSelector('[data-testid=groups-list] tr[data-group="free"]');
    expect(await rowIds(page, '[data-testid=groups-list] tr[data-group]', 'data-group')).toEqual([
      'free',
      'later',
    ]);

    // One group from the list: its jobs, head first.
    await page.click('tr[data-group="free"] a');
    await page.waitForSelector('[data-testid=group-table]');
    await open(page, server.url, 'groups/grp', '[data-testid=groups-list] tr[data-group="busy"]');
    await page.click('tr[data-group="busy"] td a');
    await page.waitForSelector(`[data-testid=group-table] tr[data-job="${busy!.id}"]`);
    expect(await page.locator(`tr[data-job="${busy!.id}"] [data-role]`).getAttribute('data-role')).toBe(
      'head',
    );
    expect(await page.locator('[data-testid=group-summary]').innerText()).toContain(`Head: job ${busy!.id}`);
  });

  it('labels counts past the cap as lower bounds and estimates', async () => {
    const q = await db.arbiter.createQueue('capped');
    await q.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { n } })));
    await q.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { n } })));
    for (const j of await q.claim({ limit: 5 })) await q.dlq.move(j, 'boom');
    await db.pool.query(`ANALYZE "${db.schema}".capped_dlq`);
    const small = await startUiServer(
      { arbiter: db.arbiter, overviewCap: 2, overviewCacheMs: 0 },
      { pollMs: 60_000 },
    );
    try {
      await open(page, small.url, 'overview', 'tr[data-queue="capped"]');
      const cell = (k: string) => page.locator(`tr[data-queue="capped"] [data-k="${k}"]`);
      expect(await cell('claimable').innerText()).toBe('2+');
      expect(await cell('claimable').getAttribute('data-kind')).toBe('atLeast');
      expect(await cell('claimable').getAttribute('title')).toContain('2 or more');
      expect(await cell('dead').innerText()).toBe('\u22485');
      expect(await cell('dead').getAttribute('data-kind')).toBe('estimate');
      expect(await cell('inFlight').innerText()).toBe('0');
      expect(await page.locator('[data-testid=totals] [data-k="claimable"]').getAttribute('data-kind')).toBe(
        'atLeast',
      );
    } finally {
      await small.close();
    }
  });

  it('raised no dialog, page error or CSP violation on any of these views', () => {
    expect(watch.dialogs).toEqual([]);
    expect(watch.consoleErrors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });
});
