import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb({ poolSize: 12 });
let app: Hono;
const Q = 'http_controls';

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.arbiter.createQueue(Q);
});

const count = async () =>
  Number((await db.pool.query(`SELECT count(*) AS n FROM "${db.schema}"."${Q}"`)).rows[0].n);

describe('enqueue controls over HTTP', () => {
  it('debounce: racing requests make one job; the job route shows what it absorbed', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(app, 'POST', `/queues/${Q}/jobs`, { payload: { i }, debounce: { key: 'd', windowMs: 60_000 } }),
      ),
    );
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const outcomes = replies.map((r) => r.body.job.enqueueOutcome as string).sort();
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'replaced')).toHaveLength(11);
    const id = replies[0]!.body.job.id as string;
    const got = await call(app, 'GET', `/queues/${Q}/jobs/${id}`);
    expect(got.body.debounced).toEqual({ key: 'd', absorbed: 11 });
  });

  it('maxQueued at the cap: 429 QUEUE_FULL with Retry-After, nothing written', async () => {
    const before = await count();
    const body = { payload: {}, maxQueued: { limit: before } };
    const res = await call(app, 'POST', `/queues/${Q}/jobs`, body);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('QUEUE_FULL');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(before);
  });

  it('unique and throttle: a second request is reported, not written', async () => {
    const before = await count();
    const u = { payload: {}, unique: { key: 'u', forMs: 60_000 } };
    expect((await call(app, 'POST', `/queues/${Q}/jobs`, u)).body.job.enqueueOutcome).toBe('created');
    expect((await call(app, 'POST', `/queues/${Q}/jobs`, u)).body.job.enqueueOutcome).toBe('duplicate');
    const th = { payload: {}, throttle: { key: 't', windowMs: 60_000 } };
    expect((await call(app, 'POST', `/queues/${Q}/jobs`, th)).body.job.enqueueOutcome).toBe('created');
    expect((await call(app, 'POST', `/queues/${Q}/jobs`, th)).body.job.enqueueOutcome).toBe('throttled');
    expect(await count()).toBe(before + 2);
  });

  it('bad input: 400 with the field, nothing written', async () => {
    const before = await count();
    const bad: [unknown, string][] = [
      [{ payload: {}, debounce: { key: 'k', windowMs: 0 } }, 'debounce.windowMs'],
      [{ payload: {}, debounce: { key: 'k', windowMs: 10 }, idempotencyKey: 'i' }, 'debounce'],
      [{ payload: {}, unique: { key: 'x'.repeat(600), forMs: 10 } }, 'unique.key'],
      [{ payload: {}, maxQueued: { limit: 0 } }, 'maxQueued.limit'],
    ];
    for (const [body, field] of bad) {
      const res = await call(app, 'POST', `/queues/${Q}/jobs`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    const batch = await call(app, 'POST', `/queues/${Q}/jobs/batch`, {
      items: [{ payload: {}, throttle: { key: 'k', windowMs: 10 } }],
    });
    expect(batch.status).toBe(400);
    expect(await count()).toBe(before);
  });
});
