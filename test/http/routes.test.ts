import { beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import type { Hono } from 'hono';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
const Q = 'http_routes';

beforeAll(async () => {
  app = createAdminApp({
    arbiter: db.arbiter,
    auth: { token: TOKEN },
    allowClaim: true,
    logger: { error() {} },
  });
  await db.arbiter.createQueue(Q);
});

describe('queues', () => {
  it('creates, lists, gets, pauses, resumes and drops a queue', async () => {
    const created = await call(app, 'POST', '/queues', { name: 'http_tmp' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'http_tmp', paused: false });
    const list = await call(app, 'GET', '/queues');
    expect(list.body.items.map((q: { name: string }) => q.name)).toContain('http_tmp');
    expect((await call(app, 'POST', '/queues/http_tmp/pause')).body).toEqual({ paused: true });
    expect((await db.arbiter.listQueues()).find((q) => q.name === 'http_tmp')?.paused).toBe(true);
    expect((await call(app, 'POST', '/queues/http_tmp/resume')).body).toEqual({ paused: false });
    const one = await call(app, 'GET', '/queues/http_tmp');
    expect(one.body).toMatchObject({ name: 'http_tmp', paused: false, stats: { total: 0 } });
    expect((await call(app, 'DELETE', '/queues/http_tmp')).body).toEqual({ dropped: true });
    expect((await db.arbiter.listQueues()).some((q) => q.name === 'http_tmp')).toBe(false);
    expect((await call(app, 'DELETE', '/queues/http_tmp')).status).toBe(404);
    expect((await call(app, 'GET', '/queues/http_tmp/stats')).status).toBe(404);
    expect((await call(app, 'POST', '/queues/nope_nope/pause')).status).toBe(404);
  });

  it('reports stats', async () => {
    await db.arbiter.queue(Q).enqueue({ n: 1 });
    const res = await call(app, 'GET', `/queues/${Q}/stats`);
    expect(res.status).toBe(200);
    expect(res.body.total).toBeGreaterThanOrEqual(1);
    expect(res.body).toHaveProperty('oldestReadyAgeSeconds');
  });
});

describe('enqueue and jobs', () => {
  it('enqueues one job with options and reads it back', async () => {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await call(app, 'POST', `/queues/${Q}/jobs`, {
      payload: { hello: 'world' },
      groupKey: 'g1',
      runAt,
    });
    expect(res.status).toBe(201);
    expect(res.body.job).toMatchObject({ payload: { hello: 'world' }, groupKey: 'g1', status: 'scheduled' });
    const got = await call(app, 'GET', `/queues/${Q}/jobs/${res.body.job.id}`);
    expect(got.body).toMatchObject({ id: res.body.job.id, runAt });
    const dup = await call(app, 'POST', `/queues/${Q}/jobs`, { payload: 1, dedup: { key: 'k1' } });
    const skipped = await call(app, 'POST', `/queues/${Q}/jobs`, { payload: 2, dedup: { key: 'k1' } });
    expect(dup.body.job).not.toBeNull();
    expect(skipped.body.job).toBeNull();
  });

  it('enqueues a batch and pages through a filtered listing', async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ payload: { batch: true, i }, groupKey: 'pg' }));
    const res = await call(app, 'POST', `/queues/${Q}/jobs/batch`, { items });
    expect(res.status).toBe(201);
    expect(res.body.count).toBe(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `groupKey=pg&limit=2&payloadContains=${encodeURIComponent('{"batch":true}')}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call(app, 'GET', `/queues/${Q}/jobs?${qs}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((j: { id: string }) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(res.body.jobs.map((j: { id: string }) => j.id).sort());
    const byStatus = await call(app, 'GET', `/queues/${Q}/jobs?status=ready,scheduled&groupKey=pg`);
    expect(byStatus.body.items).toHaveLength(5);
    const group = await call(app, 'GET', `/queues/${Q}/groups/pg?limit=3`);
    expect(group.body).toMatchObject({ groupKey: 'pg', count: 5 });
    expect(group.body.items).toHaveLength(3);
  });

  it('promotes, suspends, resumes and cancels', async () => {
    const q = db.arbiter.queue(Q);
    const job = (await q.enqueue({ act: 1 }, { delayMs: 3_600_000 }))!;
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/promote`)).body).toEqual({ changed: 1 });
    expect((await q.jobs.get(job.id))!.status).toBe('ready');
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/suspend`)).body).toEqual({ changed: 1 });
    expect((await q.jobs.get(job.id))!.status).toBe('suspended');
    const again = await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/suspend`);
    expect(again.status).toBe(409);
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/resume`)).body).toEqual({ changed: 1 });
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/cancel`)).body).toEqual({ changed: 1 });
    expect(await q.jobs.get(job.id)).toBeNull();
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/cancel`)).status).toBe(404);
    expect((await call(app, 'GET', `/queues/${Q}/jobs/${job.id}`)).status).toBe(404);
    const a = (await q.enqueue({ bulk: 1 }))!;
    const b = (await q.enqueue({ bulk: 2 }))!;
    expect((await call(app, 'POST', `/queues/${Q}/jobs/cancel`, { ids: [a.id, b.id] })).body).toEqual({
      changed: 2,
    });
  });

  it('shows children with results and cancels a tree', async () => {
    const q = db.arbiter.queue('http_tree');
    await db.arbiter.createQueue('http_tree');
    const tree = await q.enqueueTree({
      payload: { root: true },
      children: [{ payload: { c: 1 } }, { payload: { c: 2 } }],
    });
    const [c1] = await q.claim({ limit: 1 });
    await q.ack(c1!, { result: { done: c1!.id } });
    const res = await call(app, 'GET', `/queues/http_tree/jobs/${tree.job.id}/children`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.results).toEqual({ [c1!.id]: { done: c1!.id } });
    const cascade = await call(app, 'POST', `/queues/http_tree/jobs/${tree.job.id}/cancel-cascade`);
    expect(cascade.body.changed).toBe(2);
    expect(await q.jobs.count()).toBe(0);
  });
});

describe('dead letters', () => {
  it('lists, gets, retries and deletes, single and bulk', async () => {
    const q = db.arbiter.queue('http_dlq');
    await db.arbiter.createQueue('http_dlq');
    await q.enqueueMany([1, 2, 3, 4].map((n) => ({ payload: { n } })));
    const claimed = await q.claim({ limit: 4 });
    for (const j of claimed) await q.dlq.move(j, `boom ${j.payload as string}`);
    const list = await call(app, 'GET', '/queues/http_dlq/dead-letters?limit=10&hasError=true');
    expect(list.body.items).toHaveLength(4);
    const [d1, d2, d3, d4] = list.body.items as { id: string }[];
    expect((await call(app, 'GET', `/queues/http_dlq/dead-letters/${d1!.id}`)).body).toMatchObject({
      status: 'dead',
    });
    const retried = await call(app, 'POST', `/queues/http_dlq/dead-letters/${d1!.id}/retry`);
    expect(retried.body.job).toMatchObject({ attempts: 0, status: 'ready' });
    expect((await call(app, 'DELETE', `/queues/http_dlq/dead-letters/${d2!.id}`)).body).toEqual({
      changed: 1,
    });
    const bulk = await call(app, 'POST', '/queues/http_dlq/dead-letters/retry', { ids: [d3!.id, '999999'] });
    expect(bulk.body.jobs).toHaveLength(1);
    expect(bulk.body.missing).toEqual(['999999']);
    expect((await call(app, 'POST', '/queues/http_dlq/dead-letters/delete', { ids: [d4!.id] })).body).toEqual(
      { changed: 1 },
    );
    expect(await q.dlq.count()).toBe(0);
    expect(await q.jobs.count()).toBe(2);
  });
});

describe('worker protocol (allowClaim)', () => {
  it('claims, extends, retries, acks and fails with fencing', async () => {
    await db.arbiter.createQueue('http_claim');
    const q = db.arbiter.queue('http_claim');
    await q.enqueueMany([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
    const claim = await call(app, 'POST', '/queues/http_claim/claim', {
      limit: 3,
      leaseMs: 60_000,
      workerId: 'py-1',
    });
    expect(claim.body.items).toHaveLength(3);
    expect(claim.body.nextDueInMs).toBeNull(); // a full claim
    const [a, b, c] = claim.body.items as { id: string; attempts: number }[];
    const base = '/queues/http_claim/jobs';
    expect(
      (await call(app, 'POST', `${base}/${a!.id}/extend-lease`, { attempts: a!.attempts, leaseMs: 90_000 }))
        .body,
    ).toEqual({ changed: 1 });
    expect(
      (await call(app, 'POST', `${base}/${a!.id}/ack`, { attempts: a!.attempts, result: 1 })).body,
    ).toEqual({ changed: 1 });
    const stale = await call(app, 'POST', `${base}/${a!.id}/ack`, { attempts: a!.attempts });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('LEASE_LOST');
    expect(
      (
        await call(app, 'POST', `${base}/${b!.id}/retry`, {
          attempts: b!.attempts,
          delayMs: 60_000,
          error: 'later',
        })
      ).body,
    ).toEqual({ changed: 1 });
    expect((await q.jobs.get(b!.id))!.status).toBe('retrying');
    // Nothing claimable now: the answer says when the retry falls due.
    const empty = await call(app, 'POST', '/queues/http_claim/claim', { limit: 5 });
    expect(empty.body.items).toEqual([]);
    expect(empty.body.nextDueInMs).toBeGreaterThan(55_000);
    expect(empty.body.nextDueInMs).toBeLessThanOrEqual(60_000);
    expect(
      (await call(app, 'POST', `${base}/${c!.id}/fail`, { attempts: c!.attempts, error: 'bad' })).body,
    ).toEqual({ changed: 1 });
    expect(await q.dlq.count()).toBe(1);
  });

  it('is absent unless allowClaim is set', async () => {
    const plain = createAdminApp({ arbiter: db.arbiter });
    expect((await call(plain, 'POST', `/queues/${Q}/claim`, {})).status).toBe(404);
    const doc = (await call(plain, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).not.toContain('/queues/{queue}/claim');
  });
});

describe('workers', () => {
  it('lists registered workers', async () => {
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid) VALUES ('w-http', '{a}', 'h', 1)`,
    );
    const res = await call(app, 'GET', '/workers');
    expect(res.body.items).toEqual([expect.objectContaining({ id: 'w-http', queues: ['a'] })]);
  });
});
