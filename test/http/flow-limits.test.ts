import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
let readOnly: Hono;

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  readOnly = createAdminApp({
    arbiter: db.arbiter,
    auth: { token: TOKEN },
    readOnly: true,
    logger: { error() {} },
  });
  await db.arbiter.createQueue('http_lim');
});

describe('queue limits over HTTP', () => {
  it('reads and changes limits; why names the cap', async () => {
    expect((await call(app, 'GET', '/queues/http_lim/limits')).body).toEqual({
      maxInFlight: null,
      rate: null,
    });
    const set = await call(app, 'POST', '/queues/http_lim/limits', {
      maxInFlight: 1,
      rate: { perSecond: 100 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ maxInFlight: 1, rate: { perSecond: 100, burst: 100, cost: 1 } });
    const q = db.arbiter.queue('http_lim');
    await q.enqueue({ a: 1 });
    const b = await q.enqueue({ b: 1 });
    expect(await q.claim({ limit: 5 })).toHaveLength(1);
    const why = await call(app, 'GET', `/queues/http_lim/jobs/${b!.id}/why`);
    expect(why.status).toBe(200);
    const cap = why.body.reasons.find((r: { code: string }) => r.code === 'queue-cap');
    expect(cap.text).toContain('Queue cap 1/1 reached');
  });

  it('answers 400 naming the field, 404 for a missing queue, 403 when read-only, and changes nothing', async () => {
    const bad = await call(app, 'POST', '/queues/http_lim/limits', { maxInFlight: -3 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'limits.maxInFlight' });
    expect((await call(app, 'POST', '/queues/http_lim/limits', { rate: { perSecond: 0 } })).status).toBe(400);
    expect((await call(app, 'POST', '/queues/http_lim/limits', { speed: 1 })).status).toBe(400);
    expect((await call(app, 'POST', '/queues/nope_q/limits', { maxInFlight: 1 })).status).toBe(404);
    expect((await call(app, 'GET', '/queues/nope_q/limits')).status).toBe(404);
    expect((await call(readOnly, 'POST', '/queues/http_lim/limits', { maxInFlight: 9 })).status).toBe(403);
    expect(await db.arbiter.getQueueLimits('http_lim')).toEqual({
      maxInFlight: 1,
      rate: { perSecond: 100, burst: 100, cost: 1 },
    });
  });
});
