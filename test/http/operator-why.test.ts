import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { shiftJob, useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

// "Why isn't this running?" served by the API, the overview's alert for a queue nobody serves, and a
// pause that shows at once however the overview is cached.

const db = useTestDb();
let app: Hono;
type Entry = Record<string, unknown> & { name: string; alerts: unknown[] };
const entry = (body: { queues: Entry[] }, name: string): Entry => body.queues.find((q) => q.name === name)!;

beforeAll(() => {
  // A long cache, as a busy deployment would have: nothing below may depend on it expiring.
  app = createAdminApp({
    arbiter: db.arbiter,
    auth: { token: TOKEN },
    overviewCacheMs: 600_000,
    logger: { error() {} },
  });
});

describe('GET /queues/{queue}/jobs/{id}/why', () => {
  it('gives every reason in order, naming the job that runs first', async () => {
    const q = await db.arbiter.createQueue('hw_why');
    const [head, behind] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'acct-1' })));
    const res = await call(app, 'GET', `/queues/hw_why/jobs/${behind!.id}/why`);
    expect(res.status).toBe(200);
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toEqual(['behind-head', 'no-worker']);
    expect(res.body.reasons[0]).toMatchObject({ jobId: head!.id });
    expect(res.body).toMatchObject({ ok: false, liveWorkers: 0, job: { id: behind!.id, status: 'ready' } });
    expect(res.body.group).toMatchObject({ groupKey: 'acct-1', nextJobId: head!.id });

    const missing = await call(app, 'GET', '/queues/hw_why/jobs/987654321/why');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('JOB_NOT_FOUND');
  });

  it('describes the group beside its jobs', async () => {
    const q = await db.arbiter.createQueue('hw_group');
    const [first] = await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'g' })));
    const res = await call(app, 'GET', '/queues/hw_group/groups/g');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ groupKey: 'g', count: 3 });
    expect(res.body.group).toMatchObject({ state: 'ready', nextJobId: first!.id, jobCount: 3 });
    expect((await call(app, 'GET', '/queues/hw_group/groups/none')).body).toMatchObject({
      count: 0,
      group: null,
      items: [],
    });
  });
});

describe('GET /overview', () => {
  it('flags a queue whose claimable work waited a minute with no live worker', async () => {
    const q = await db.arbiter.createQueue('hw_stalled');
    const job = (await q.enqueue({ n: 1 }))!;
    await shiftJob(db.pool, db.schema, 'hw_stalled', job.id, `run_at = now() - interval '5 minutes'`);
    const fresh = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, overviewCacheMs: 0 });
    const stalled = entry((await call(fresh, 'GET', '/overview')).body, 'hw_stalled');
    expect(stalled.liveWorkers).toBe(0);
    expect(stalled.alerts).toEqual([
      {
        code: 'no-live-worker',
        text: expect.stringMatching(
          /^No live worker serves queue "hw_stalled" and its oldest claimable job has waited 5 min/,
        ),
      },
    ]);
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid) VALUES ('w-hw', '{hw_stalled}', 'box', 1)`,
    );
    const served = entry((await call(fresh, 'GET', '/overview')).body, 'hw_stalled');
    expect(served).toMatchObject({ liveWorkers: 1, alerts: [] });
  });

  it('shows a pause and a resume at once, whatever the cache holds', async () => {
    await db.arbiter.createQueue('hw_pause');
    expect(entry((await call(app, 'GET', '/overview')).body, 'hw_pause').paused).toBe(false);
    expect((await call(app, 'POST', '/queues/hw_pause/pause')).body).toEqual({ paused: true });
    expect(entry((await call(app, 'GET', '/overview')).body, 'hw_pause').paused).toBe(true);
    expect((await call(app, 'POST', '/queues/hw_pause/resume')).body).toEqual({ paused: false });
    expect(entry((await call(app, 'GET', '/overview')).body, 'hw_pause').paused).toBe(false);
  });
});
