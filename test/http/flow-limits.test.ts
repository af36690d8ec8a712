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
      perKey: null,
    });
    const set = await call(app, 'POST', '/queues/http_lim/limits', {
      maxInFlight: 1,
      rate: { perSecond: 100 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      maxInFlight: 1,
      rate: { perSecond: 100, burst: 100, cost: 1 },
      perKey: null,
    });
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
      perKey: null,
    });
  });
});

describe('per-key limits over HTTP', () => {
  it('sets per-key defaults, lists keys with their use, and sets a key override; why names the key cap', async () => {
    await db.arbiter.createQueue('http_keys');
    const set = await call(app, 'POST', '/queues/http_keys/limits', {
      perKey: { maxInFlight: 1, rate: { perSecond: 50 } },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: { maxInFlight: 1, rate: { perSecond: 50, burst: 50, cost: 1 } },
    });
    const q = db.arbiter.queue('http_keys');
    await q.enqueue({ n: 1 }, { limitKey: 'acct/1' });
    const waiting = await q.enqueue({ n: 2 }, { limitKey: 'acct/1' });
    await q.enqueue({ n: 3 }, { limitKey: 'b' });
    await q.enqueue({ n: 4 });
    // One job of each key: acct/1 is then at its cap of 1 (the jobs without a key have no cap).
    expect(await q.claim({ limit: 10 })).toHaveLength(3);

    const over = await call(app, 'POST', '/queues/http_keys/keys/b/limits', { maxInFlight: 4, weight: 3 });
    expect(over.status).toBe(200);
    expect(over.body).toEqual({ maxInFlight: 4, rate: null, weight: 3 });
    expect(await db.arbiter.getKeyLimits('http_keys', 'b')).toEqual({
      maxInFlight: 4,
      rate: null,
      weight: 3,
    });
    expect((await call(app, 'GET', '/queues/http_keys/keys/b/limits')).body).toEqual(over.body);
    // A key with a slash and a space travels percent-encoded in the path.
    const enc = encodeURIComponent('acct/1');
    expect((await call(app, 'GET', `/queues/http_keys/keys/${enc}/limits`)).body).toEqual({
      maxInFlight: null,
      rate: null,
      weight: null,
    });
    expect(
      (await call(app, 'POST', `/queues/http_keys/keys/${encodeURIComponent('a b')}/limits`, { weight: 2 }))
        .body,
    ).toEqual({ maxInFlight: null, rate: null, weight: 2 });
    expect((await db.arbiter.getKeyLimits('http_keys', 'a b')).weight).toBe(2);

    const all = await call(app, 'GET', '/queues/http_keys/keys');
    expect(all.status).toBe(200);
    expect(all.body.nextAfter).toBeNull();
    expect(all.body.items.map((k: { key: string }) => k.key)).toEqual(['', 'a b', 'acct/1', 'b']);
    const acct = all.body.items.find((k: { key: string }) => k.key === 'acct/1');
    expect(acct).toMatchObject({ configured: false, maxInFlight: 1, weight: 1, inFlight: 1, ready: 1 });
    const b = all.body.items.find((k: { key: string }) => k.key === 'b');
    expect(b).toMatchObject({ configured: true, maxInFlight: 4, weight: 3, inFlight: 1, ready: 0 });
    const why = await call(app, 'GET', `/queues/http_keys/jobs/${waiting!.id}/why`);
    const keyCap = why.body.reasons.find((r: { code: string }) => r.code === 'key-cap');
    expect(keyCap.text).toContain('Key "acct/1" is at its limit 1/1');

    // Pages: nextAfter leads on, and the pages together are the whole list.
    const p1 = await call(app, 'GET', '/queues/http_keys/keys?limit=2');
    expect(p1.body.items).toHaveLength(2);
    expect(p1.body.nextAfter).toBe('a b');
    const p2 = await call(app, 'GET', `/queues/http_keys/keys?limit=2&after=${encodeURIComponent('a b')}`);
    expect(p2.body.items.map((k: { key: string }) => k.key)).toEqual(['acct/1', 'b']);
    const p3 = await call(app, 'GET', '/queues/http_keys/keys?limit=2&after=b');
    expect(p3.body).toEqual({ items: [], nextAfter: null });
  });

  it('answers 400 naming the field, 404 for a missing queue, 403 when read-only, and changes nothing', async () => {
    const before = await db.arbiter.getKeyLimits('http_keys', 'b');
    const cases: [string, unknown, string][] = [
      ['/queues/http_keys/keys/b/limits', { weight: 0 }, 'limits.weight'],
      ['/queues/http_keys/keys/b/limits', { maxInFlight: 1.5 }, 'limits.maxInFlight'],
      ['/queues/http_keys/keys/b/limits', { rate: { perSecond: -1 } }, 'limits.rate.perSecond'],
      ['/queues/http_keys/keys/b/limits', { tier: 'gold' }, 'limits.tier'],
      ['/queues/http_keys/limits', { perKey: { maxInFlight: 0 } }, 'limits.perKey.maxInFlight'],
      ['/queues/http_keys/limits', { perKey: { speed: 1 } }, 'limits.perKey.speed'],
    ];
    for (const [path, body, field] of cases) {
      const r = await call(app, 'POST', path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.field).toBe(field);
    }
    const badLimit = await call(app, 'GET', '/queues/http_keys/keys?limit=0');
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.field).toBe('limit');
    expect((await call(app, 'GET', '/queues/http_keys/keys?limit=x')).status).toBe(400);
    expect((await call(app, 'GET', '/queues/http_keys/keys?page=2')).status).toBe(400);
    expect((await call(app, 'GET', '/queues/nope_q/keys')).status).toBe(404);
    expect((await call(app, 'GET', '/queues/nope_q/keys/b/limits')).status).toBe(404);
    expect((await call(app, 'POST', '/queues/nope_q/keys/b/limits', { weight: 2 })).status).toBe(404);
    const ro = await call(readOnly, 'POST', '/queues/http_keys/keys/b/limits', { weight: 9 });
    expect(ro.status).toBe(403);
    expect((await call(readOnly, 'GET', '/queues/http_keys/keys')).status).toBe(200);
    expect(await db.arbiter.getKeyLimits('http_keys', 'b')).toEqual(before);
    expect((await db.arbiter.getQueueLimits('http_keys')).perKey).toEqual({
      maxInFlight: 1,
      rate: { perSecond: 50, burst: 50, cost: 1 },
    });
  });

  it('turns keys off with perKey null; the key list is then empty', async () => {
    const off = await call(app, 'POST', '/queues/http_keys/limits', { perKey: null });
    expect(off.body.perKey).toBeNull();
    expect((await call(app, 'GET', '/queues/http_keys/keys')).body).toEqual({ items: [], nextAfter: null });
  });

  it('enqueues with a limitKey over HTTP', async () => {
    const r = await call(app, 'POST', '/queues/http_keys/jobs', { payload: {}, limitKey: 'tenant-9' });
    expect(r.status).toBe(201);
    expect(r.body.job.limitKey).toBe('tenant-9');
    expect(r.body.job.meta).toMatchObject({ 'arbiter:key': 'tenant-9' });
  });
});
