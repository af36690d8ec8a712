import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, schemaChecksum, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.arbiter.createQueue('http_cron');
});

describe('cron schedules over HTTP', () => {
  it('adds, lists, gets, changes, pauses, resumes and removes a schedule', async () => {
    const added = await call(app, 'POST', '/cron', {
      name: 'nightly report',
      queue: 'http_cron',
      pattern: '0 3 * * *',
      tz: 'Europe/Paris',
      payload: { kind: 'report' },
      missed: 'catch-up',
      catchUpMax: 3,
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      name: 'nightly report',
      source: 'runtime',
      paused: false,
      missed: 'catch-up',
      catchUpMax: 3,
      overlap: 'skip',
      payload: { kind: 'report' },
    });
    expect(typeof added.body.nextTick).toBe('string');
    const path = `/cron/${encodeURIComponent('nightly report')}`;
    expect((await call(app, 'GET', '/cron')).body.items.map((s: { name: string }) => s.name)).toEqual([
      'nightly report',
    ]);
    expect((await call(app, 'GET', path)).body.pattern).toBe('0 3 * * *');
    const set = await call(app, 'POST', path, { pattern: '30 2 * * *', missed: 'skip' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ pattern: '30 2 * * *', missed: 'skip', tz: 'Europe/Paris' });
    expect((await call(app, 'POST', `${path}/pause`)).body).toMatchObject({ paused: true, nextTick: null });
    expect((await call(app, 'POST', `${path}/resume`)).body.paused).toBe(false);
    expect((await call(app, 'DELETE', path)).body).toEqual({ removed: true });
    expect((await call(app, 'GET', '/cron')).body.items).toEqual([]);
  });

  it('answers 404, 409 and 400 with typed codes and writes nothing', async () => {
    await call(app, 'POST', '/cron', { name: 'taken', queue: 'http_cron', pattern: '* * * * *' });
    const before = await schemaChecksum(db.pool, db.schema);
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/cron', { name: 'taken', queue: 'http_cron', pattern: '0 * * * *' }, 409, 'CRON_EXISTS'],
      ['POST', '/cron', { name: 'x', queue: 'http_nope', pattern: '0 * * * *' }, 404, 'QUEUE_NOT_FOUND'],
      ['POST', '/cron', { name: 'x', queue: 'http_cron', pattern: 'every day' }, 400, 'INVALID_ARGUMENT'],
      [
        'POST',
        '/cron',
        { name: 'x', queue: 'http_cron', pattern: '* * * * *', when: 1 },
        400,
        'INVALID_ARGUMENT',
      ],
      [
        'POST',
        '/cron',
        { name: 'x', queue: 'http_cron', pattern: '* * * * *', missed: 'all' },
        400,
        'INVALID_ARGUMENT',
      ],
      ['GET', '/cron/nope', undefined, 404, 'CRON_NOT_FOUND'],
      ['POST', '/cron/nope', { pattern: '0 * * * *' }, 404, 'CRON_NOT_FOUND'],
      ['POST', '/cron/taken', { tz: 'Nowhere/Atlantis' }, 400, 'INVALID_ARGUMENT'],
      ['POST', '/cron/nope/pause', undefined, 404, 'CRON_NOT_FOUND'],
      ['DELETE', '/cron/nope', undefined, 404, 'CRON_NOT_FOUND'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(app, method, path, body);
      expect([r.status, r.body?.error?.code], `${method} ${path}`).toEqual([status, code]);
    }
    expect(await schemaChecksum(db.pool, db.schema)).toEqual(before);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await call(app, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/cron', '/cron/{name}', '/cron/{name}/pause']),
    );
    expect(doc.paths['/cron'].post.operationId).toBe('addCron');
    expect(doc.components.schemas.CronSchedule.properties.missed.enum).toEqual(['skip', 'once', 'catch-up']);
  });
});
