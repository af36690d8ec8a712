import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { DEFAULT_RETENTION } from '../../src/core/retention.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

// The operator surface added for issue 4: the cached overview, the groups listing, single-queue lookup
// and bulk dead-letter retry.

const db = useTestDb();
let app: Hono;
const Q = 'http_ops';
const HOUR = 3_600_000;

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.arbiter.createQueue(Q);
});

describe('GET /overview', () => {
  it('lists every queue with counts that say whether they are exact, and caches the reading', async () => {
    const q = db.arbiter.queue(Q);
    await q.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3, delayMs: HOUR }]);
    const first = await call(app, 'GET', '/overview');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ maxAgeMs: 5000, cap: 10_000 });
    const mine = first.body.queues.find((x: { name: string }) => x.name === Q);
    expect(mine).toEqual({
      name: Q,
      paused: false,
      createdAt: expect.any(String),
      retention: DEFAULT_RETENTION,
      claimable: { value: 2, exact: true, kind: 'exact' },
      inFlight: { value: 0, exact: true, kind: 'exact' },
      total: { value: 3, exact: true, kind: 'exact' },
      dead: { value: 0, exact: true, kind: 'exact' },
      groups: { value: 0, exact: true, kind: 'exact' },
      oldestClaimableAgeSeconds: expect.any(Number),
      liveWorkers: 0,
      alerts: [],
    });
    // Served from the cache: a job enqueued now is not counted until the period is over.
    await q.enqueue(4);
    const again = await call(app, 'GET', '/overview');
    expect(again.body).toEqual(first.body);
    const uncached = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, overviewCacheMs: 0 });
    const fresh = await call(uncached, 'GET', '/overview');
    expect(fresh.body.maxAgeMs).toBe(0);
    expect(fresh.body.queues.find((x: { name: string }) => x.name === Q).claimable.value).toBe(3);
  });

  it('counts a ready group once (its head), and leaves the full-scan breakdown to /stats', async () => {
    const q = await db.arbiter.createQueue('http_ov_groups');
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: n, groupKey: 'a' })));
    await q.enqueueMany([1, 2].map((n) => ({ payload: n, groupKey: 'b' })));
    await q.enqueue(0, { delayMs: HOUR });
    const uncached = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, overviewCacheMs: 0 });
    const mine = (await call(uncached, 'GET', '/overview')).body.queues.find(
      (x: { name: string }) => x.name === 'http_ov_groups',
    );
    expect(mine.claimable).toEqual({ value: 2, exact: true, kind: 'exact' });
    expect(mine.groups).toEqual({ value: 2, exact: true, kind: 'exact' });
    expect(mine.total).toEqual({ value: 6, exact: true, kind: 'exact' });
    expect(mine).not.toHaveProperty('scheduled');
    const stats = await call(uncached, 'GET', '/queues/http_ov_groups/stats');
    expect(stats.body).toMatchObject({ ready: 5, scheduled: 1, total: 6, groups: 2 });
  });

  it('needs credentials like every other route', async () => {
    expect((await call(app, 'GET', '/overview', undefined, {})).status).toBe(401);
  });
});

describe('GET /queues/{queue}/groups', () => {
  it('pages through the groups and says which are blocked and why', async () => {
    const q = await db.arbiter.createQueue('http_groups');
    const [held] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'held' })));
    await q.enqueueMany(['r1', 'r2', 'r3'].map((groupKey) => ({ payload: 0, groupKey })));
    const [claimed] = await q.claim({ workerId: 'w-http' });
    expect(claimed!.id).toBe(held!.id);

    const first = await call(app, 'GET', '/queues/http_groups/groups?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((g: { groupKey: string }) => g.groupKey)).toEqual(['held', 'r1']);
    expect(first.body.items[0]).toMatchObject({
      groupKey: 'held',
      jobCount: 2,
      state: 'in-flight',
      blocked: true,
      blocker: { id: held!.id, status: 'in-flight', workerId: 'w-http' },
    });
    expect(first.body.items[1]).toMatchObject({ state: 'ready', blocked: false, blocker: null });
    const second = await call(
      app,
      'GET',
      `/queues/http_groups/groups?limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items.map((g: { groupKey: string }) => g.groupKey)).toEqual(['r2', 'r3']);
    expect(second.body.nextCursor).toBeNull();
  });

  it('answers 404 for an unknown queue and 400 for a bad limit', async () => {
    expect((await call(app, 'GET', '/queues/no_such_q/groups')).body.error.code).toBe('QUEUE_NOT_FOUND');
    const bad = await call(app, 'GET', `/queues/${Q}/groups?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('limit');
  });
});

describe('GET /queues/{queue}', () => {
  it('finds one queue by name (with its exact stats) and 404s an unknown one', async () => {
    await db.arbiter.createQueue('http_one');
    await db.arbiter.queue('http_one').enqueue({ n: 1 });
    await db.arbiter.pauseQueue('http_one');
    const one = await call(app, 'GET', '/queues/http_one');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'http_one', paused: true, stats: { total: 1, ready: 1 } });
    const missing = await call(app, 'GET', '/queues/http_none');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('QUEUE_NOT_FOUND');
  });
});

describe('bulk dead-letter retry', () => {
  it('retries in one transaction: the new jobs in the order given and the ids not found', async () => {
    const q = await db.arbiter.createQueue('http_bulk');
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n } })));
    const jobs = await q.claim({ limit: 3 });
    await q.dlq.moveMany(jobs.map((job) => ({ job, error: 'boom' })));
    const items = (await q.dlq.list()).items;
    const dead = items.map((d) => d.id);
    const res = await call(app, 'POST', '/queues/http_bulk/dead-letters/retry', {
      ids: [dead[2], '99999', dead[0]],
    });
    expect(res.status).toBe(200);
    expect(res.body.missing).toEqual(['99999']);
    expect(res.body.jobs.map((j: { payload: unknown }) => j.payload)).toEqual([
      items[2]!.payload,
      items[0]!.payload,
    ]);
    expect(res.body.jobs).toHaveLength(2);
    expect(await q.dlq.count()).toBe(1);
    expect(await q.jobs.count()).toBe(2);
  });

  it('documents the same cap for every bulk route in the OpenAPI document', async () => {
    const { MAX_BULK_IDS } = await import('../../src/http/routes-jobs.js');
    const doc = (await call(app, 'GET', '/openapi.json')).body;
    expect(doc.components.schemas.Ids.properties.ids.maxItems).toBe(MAX_BULK_IDS);
    for (const path of [
      '/queues/{queue}/jobs/cancel',
      '/queues/{queue}/dead-letters/retry',
      '/queues/{queue}/dead-letters/delete',
    ]) {
      expect(doc.paths[path].post.requestBody.content['application/json'].schema.$ref, path).toBe(
        '#/components/schemas/Ids',
      );
    }
    const ok = await call(app, 'POST', '/queues/http_bulk/jobs/cancel', {
      ids: Array.from({ length: MAX_BULK_IDS }, (_, i) => String(i + 1_000_000)),
    });
    expect(ok.status).toBe(200);
  });
});
