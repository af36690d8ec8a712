import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  for (const [name, n] of [
    ['hd_a', 3],
    ['hd_b', 2],
  ] as const) {
    const q = await db.arbiter.createQueue(name);
    await q.enqueueMany(Array.from({ length: n }, (_, i) => ({ payload: { i }, groupKey: `k${i}` })));
    for (const job of await q.claim({ limit: n })) await q.dlq.move(job, `boom ${name}`);
  }
});

describe('dead letters across queues', () => {
  it('lists them with their queue, filters by queue and field, and counts them', async () => {
    const all = await call(app, 'GET', '/dead-letters?limit=4');
    expect(all.status).toBe(200);
    expect(all.body.items).toHaveLength(4);
    expect(all.body.nextCursor).not.toBeNull();
    const rest = await call(app, 'GET', `/dead-letters?limit=4&cursor=${all.body.nextCursor}`);
    expect(rest.body.items).toHaveLength(1);
    const queues = [...all.body.items, ...rest.body.items].map((d: { queue: string }) => d.queue).sort();
    expect(queues).toEqual(['hd_a', 'hd_a', 'hd_a', 'hd_b', 'hd_b']);

    const b = await call(app, 'GET', '/dead-letters?queue=hd_b&groupKey=k1');
    expect(b.body.items.map((d: { queue: string; groupKey: string }) => [d.queue, d.groupKey])).toEqual([
      ['hd_b', 'k1'],
    ]);
    expect((await call(app, 'GET', '/dead-letters/count?queue=hd_a,hd_b')).body).toEqual({
      count: { value: 5, exact: true, kind: 'exact' },
    });
    expect((await call(app, 'GET', '/dead-letters?queue=hd_none')).status).toBe(404);
    const status = await call(app, 'GET', '/dead-letters?status=dead');
    expect(status.status).toBe(400);
    expect(status.body.error.field).toBe('status');
  });

  it('retries every dead letter matching a filter, one page per request', async () => {
    let cursor: string | null = null;
    let retried = 0;
    do {
      const res: { status: number; body: { retried: unknown[]; nextCursor: string | null } } = await call(
        app,
        'POST',
        '/dead-letters/retry?queue=hd_a',
        cursor === null ? { limit: 2 } : { limit: 2, cursor },
      );
      expect(res.status).toBe(200);
      retried += res.body.retried.length;
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(retried).toBe(3);
    expect(await db.arbiter.queue('hd_a').dlq.count()).toBe(0);
    expect(await db.arbiter.queue('hd_b').dlq.count()).toBe(2);
    expect(await db.arbiter.queue('hd_a').jobs.count()).toBe(3);
    expect((await call(app, 'POST', '/dead-letters/retry', { limit: 'x' })).status).toBe(400);
  });
});
