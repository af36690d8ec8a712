import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { DEFAULT_RETENTION } from '../../src/core/retention.js';
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
  await db.arbiter.createQueue('http_ret');
});

describe('queue retention over HTTP', () => {
  it('is shown with the queue and changed by POST …/retention', async () => {
    const one = await call(app, 'GET', '/queues/http_ret');
    expect(one.body.retention).toEqual(DEFAULT_RETENTION);
    const list = await call(app, 'GET', '/queues');
    expect(list.body.items.find((q: { name: string }) => q.name === 'http_ret').retention).toEqual(
      DEFAULT_RETENTION,
    );
    const set = await call(app, 'POST', '/queues/http_ret/retention', {
      deadLetterMaxCount: 100,
      historyMaxAgeMs: null,
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ ...DEFAULT_RETENTION, deadLetterMaxCount: 100, historyMaxAgeMs: null });
    const reset = await call(app, 'POST', '/queues/http_ret/retention', { historyMaxAgeMs: 'default' });
    expect(reset.body.historyMaxAgeMs).toBe(DEFAULT_RETENTION.historyMaxAgeMs);
    // The throughput history's age, like the others.
    const stats = await call(app, 'POST', '/queues/http_ret/retention', { statsMaxAgeMs: 30 * 86_400_000 });
    expect(stats.status).toBe(200);
    expect(stats.body.statsMaxAgeMs).toBe(30 * 86_400_000);
    expect((await call(app, 'GET', '/queues/http_ret')).body.retention.statsMaxAgeMs).toBe(30 * 86_400_000);
    const short = await call(app, 'POST', '/queues/http_ret/retention', { statsMaxAgeMs: 1000 });
    expect(short.status).toBe(400);
    expect(short.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'retention.statsMaxAgeMs' });
    const back = await call(app, 'POST', '/queues/http_ret/retention', { statsMaxAgeMs: 'default' });
    expect(back.body.statsMaxAgeMs).toBe(DEFAULT_RETENTION.statsMaxAgeMs);
  });

  it('answers 400 naming the field, 404 for a missing queue, 403 when read-only', async () => {
    const bad = await call(app, 'POST', '/queues/http_ret/retention', { historyMaxCount: -3 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'retention.historyMaxCount' });
    const unknown = await call(app, 'POST', '/queues/http_ret/retention', { forever: true });
    expect(unknown.status).toBe(400);
    expect((await call(app, 'POST', '/queues/nope_q/retention', { historyMaxCount: 1 })).status).toBe(404);
    const ro = await call(readOnly, 'POST', '/queues/http_ret/retention', { historyMaxCount: 1 });
    expect(ro.status).toBe(403);
    expect((await db.arbiter.getQueue('http_ret'))!.retention.historyMaxCount).toBe(
      DEFAULT_RETENTION.historyMaxCount,
    );
  });
});
