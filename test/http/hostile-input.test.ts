import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { AUTH, call, JSON_HEADERS, leaks, schemaChecksum, TOKEN } from './helpers.js';

// R6 (HTTP part): every hostile request gets a 4xx JSON error naming the problem, leaks no SQL or stack,
// and leaves every table of the schema exactly as it was.

const db = useTestDb();
const Q = 'http_hostile';
const silent = { error() {} };
let app: Hono;
let readOnly: Hono;

beforeAll(async () => {
  // Wrong-credential cases come from one address; the failed-login limiter is tested in security.test.ts.
  const common = { arbiter: db.arbiter, auth: { token: TOKEN }, logger: silent, maxFailedLogins: 1e6 };
  app = createAdminApp(common);
  readOnly = createAdminApp({ ...common, readOnly: true });
  await db.arbiter.createQueue(Q);
  await db.arbiter.queue(Q).enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'real' })));
});

/** Runs `fn` and asserts the schema's tables are byte-for-byte the same afterwards. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
  const before = await schemaChecksum(db.pool, db.schema);
  await fn();
  expect(await schemaChecksum(db.pool, db.schema)).toBe(before);
}

describe('R6: hostile HTTP input', () => {
  const base = `/queues/${Q}`;
  const small = () =>
    createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, maxBodyBytes: 1024, logger: silent });
  const cases: {
    name: string;
    run: () => ReturnType<typeof call>;
    status: number;
    code: string;
    field?: string;
  }[] = [
    {
      name: 'invalid JSON',
      run: () => call(app, 'POST', `${base}/jobs`, '{"payload": ', JSON_HEADERS),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'wrong Content-Type',
      run: () => call(app, 'POST', `${base}/jobs`, '{"payload":1}', { ...AUTH, 'content-type': 'text/xml' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'body without Content-Type',
      run: () => call(app, 'POST', `${base}/jobs`, new TextEncoder().encode('{"payload":1}'), AUTH),
      status: 400,
      code: 'MISSING_CONTENT_TYPE',
    },
    {
      name: 'body over limit',
      run: () => call(small(), 'POST', `${base}/jobs`, { payload: 'x'.repeat(2000) }),
      status: 413,
      code: 'BODY_TOO_LARGE',
    },
    {
      name: 'missing credentials',
      run: () => call(app, 'GET', `${base}/jobs`, undefined, {}),
      status: 401,
      code: 'UNAUTHORIZED',
    },
    {
      name: 'wrong credentials',
      run: () => call(app, 'GET', `${base}/jobs`, undefined, { authorization: 'Basic YWRtaW46bm8=' }),
      status: 401,
      code: 'UNAUTHORIZED',
    },
    {
      name: 'mutation in read-only mode',
      run: () => call(readOnly, 'POST', `${base}/jobs`, { payload: 1 }),
      status: 403,
      code: 'READ_ONLY',
    },
    {
      name: 'cross-site form POST',
      run: () =>
        call(app, 'POST', `${base}/jobs`, 'payload=1', {
          ...AUTH,
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
        }),
      status: 403,
      code: 'CROSS_SITE',
    },
    {
      name: 'tampered cursor',
      run: () => call(app, 'GET', `${base}/jobs?cursor=WyJqb2JzOmlkLWRlc2MiLCIxIE9SIDE9MSJd`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'cursor',
    },
    {
      name: 'limit=-1',
      run: () => call(app, 'GET', `${base}/jobs?limit=-1`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'limit',
    },
    {
      name: 'limit=1e9',
      run: () => call(app, 'GET', `${base}/jobs?limit=1e9`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'limit',
    },
    {
      name: 'limit=1000000000',
      run: () => call(app, 'GET', `${base}/jobs?limit=1000000000`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'limit',
    },
    {
      name: 'malformed id',
      run: () => call(app, 'GET', `${base}/jobs/1%20OR%201=1`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'id',
    },
    {
      name: 'unknown job',
      run: () => call(app, 'GET', `${base}/jobs/987654321`),
      status: 404,
      code: 'JOB_NOT_FOUND',
    },
    {
      name: 'unknown queue',
      run: () => call(app, 'GET', '/queues/no_such_queue/jobs'),
      status: 404,
      code: 'QUEUE_NOT_FOUND',
    },
    {
      name: 'injection in queue name',
      run: () => call(app, 'GET', `/queues/${encodeURIComponent('x"; DROP TABLE y; --')}/jobs`),
      status: 400,
      code: 'INVALID_IDENTIFIER',
    },
    {
      name: 'unknown query parameter',
      run: () => call(app, 'GET', `${base}/jobs?stauts=pending`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'stauts',
    },
    {
      name: 'bad status',
      run: () => call(app, 'GET', `${base}/jobs?status=ready'--`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'status',
    },
    {
      name: 'bad date',
      run: () => call(app, 'GET', `${base}/jobs?createdAfter=yesterday`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'createdAfter',
    },
    {
      name: 'payloadContains not JSON',
      run: () => call(app, 'GET', `${base}/jobs?payloadContains={x`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'payloadContains',
    },
    {
      name: 'enqueue without payload',
      run: () => call(app, 'POST', `${base}/jobs`, { groupKey: 'g' }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'payload',
    },
    {
      name: 'enqueue with tx option',
      run: () => call(app, 'POST', `${base}/jobs`, { payload: 1, tx: {} }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'tx',
    },
    {
      name: 'negative delay',
      run: () => call(app, 'POST', `${base}/jobs`, { payload: 1, delayMs: -5 }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'delayMs',
    },
    {
      name: 'batch with one bad item',
      run: () =>
        call(app, 'POST', `${base}/jobs/batch`, { items: [{ payload: 1 }, { payload: 2, priority: 1.5 }] }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'items[1].priority',
    },
    {
      name: 'JSON array body',
      run: () => call(app, 'POST', `${base}/jobs`, [1, 2]),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'body',
    },
    {
      name: 'unknown parent',
      run: () => call(app, 'POST', `${base}/jobs`, { payload: 1, parentId: '987654321' }),
      status: 422,
      code: 'PARENT_NOT_FOUND',
    },
    {
      name: 'fields on a body-less action',
      run: () => call(app, 'POST', `${base}/jobs/1/promote`, { force: true }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'body',
    },
    {
      name: 'query parameter on a mutation',
      run: () => call(app, 'POST', `${base}/jobs/cancel?status=ready`, { ids: [] }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'status',
    },
    {
      name: 'payload over maxPayloadBytes (body under the limit)',
      run: () => call(app, 'POST', `${base}/jobs`, { payload: 'x'.repeat(db.arbiter.maxPayloadBytes + 10) }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'malformed id in a bulk action',
      run: () => call(app, 'POST', `${base}/dead-letters/delete`, { ids: ['1; DROP TABLE x'] }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'ids[0]',
    },
    {
      name: 'malformed id in a bulk dead-letter retry',
      run: () => call(app, 'POST', `${base}/dead-letters/retry`, { ids: ['1', '1; DROP TABLE x'] }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'ids[1]',
    },
    {
      name: 'groups listing: tampered cursor',
      run: () =>
        call(
          app,
          'GET',
          `${base}/groups?cursor=${Buffer.from('["groups:key-asc",1]').toString('base64url')}`,
        ),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'cursor',
    },
    {
      name: 'groups listing: a job-listing cursor replayed',
      run: () => call(app, 'GET', `${base}/groups?cursor=WyJqb2JzOmlkLWRlc2MiLCIxIl0`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'cursor',
    },
    {
      name: 'groups listing: limit=1001',
      run: () => call(app, 'GET', `${base}/groups?limit=1001`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'limit',
    },
    {
      name: 'groups listing: unknown query parameter',
      run: () => call(app, 'GET', `${base}/groups?status=running`),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'status',
    },
    {
      name: 'groups listing: injection in queue name',
      run: () => call(app, 'GET', `/queues/${encodeURIComponent("x' OR 1=1 --")}/groups`),
      status: 400,
      code: 'INVALID_IDENTIFIER',
    },
    {
      name: 'overview: unknown query parameter',
      run: () => call(app, 'GET', '/overview?cap=1'),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'cap',
    },
    ...(
      [
        'dead-letters/retry',
        'dead-letters/delete',
        'jobs/cancel',
        'jobs/promote',
        'jobs/suspend',
        'jobs/resume',
      ] as const
    ).map((path) => ({
      name: `${path}: 1,001 ids (one cap for every bulk route)`,
      run: () =>
        call(app, 'POST', `${base}/${path}`, { ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)) }),
      status: 400,
      code: 'BATCH_TOO_LARGE',
      field: 'ids',
    })),
    {
      name: 'bulk dead-letter retry: ids not an array',
      run: () => call(app, 'POST', `${base}/dead-letters/retry`, { ids: '1,2' }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'ids',
    },
    {
      name: 'bulk dead-letter retry: extra body key',
      run: () => call(app, 'POST', `${base}/dead-letters/retry`, { ids: ['1'], all: true }),
      status: 400,
      code: 'INVALID_ARGUMENT',
      field: 'all',
    },
    {
      name: 'single queue: injection in the name',
      run: () => call(app, 'GET', `/queues/${encodeURIComponent("q'; DROP TABLE x; --")}`),
      status: 400,
      code: 'INVALID_IDENTIFIER',
    },
    { name: 'unknown route', run: () => call(app, 'GET', '/nope'), status: 404, code: 'NOT_FOUND' },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}, database unchanged, nothing leaked`, async () => {
      await unchanged(async () => {
        const res = await c.run();
        expect(res.status).toBe(c.status);
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
        expect(res.body.error.code).toBe(c.code);
        expect(typeof res.body.error.message).toBe('string');
        if (c.field) expect(res.body.error.field).toBe(c.field);
        expect(leaks(res.text)).toEqual([]);
      });
    });
  }

  it(`"' OR 1=1 --" in filters is a literal: 0 extra rows`, async () => {
    await unchanged(async () => {
      const evil = encodeURIComponent("' OR 1=1 --");
      for (const key of ['groupKey', 'dedupKey', 'idempotencyKey']) {
        const res = await call(app, 'GET', `${base}/jobs?${key}=${evil}`);
        expect(res.status).toBe(200);
        expect(res.body.items).toEqual([]);
      }
      const real = await call(app, 'GET', `${base}/jobs?groupKey=real`);
      expect(real.body.items).toHaveLength(3);
    });
  });
});

describe('internal errors', () => {
  it('are 500 INTERNAL with no SQL or PostgreSQL detail, and go to the logger', async () => {
    const logged: unknown[] = [];
    const logging = createAdminApp({
      arbiter: db.arbiter,
      auth: { token: TOKEN },
      logger: { error: (_m, d) => logged.push(d) },
    });
    await db.arbiter.createQueue('http_broken');
    // A real PostgreSQL failure (missing column), not a simulated one.
    await db.pool.query(`ALTER TABLE "${db.schema}".http_broken DROP COLUMN priority CASCADE`);
    const res = await call(logging, 'GET', '/queues/http_broken/jobs', undefined, AUTH);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
    expect(leaks(res.text)).toEqual([]);
    expect(res.text).not.toMatch(/priority|column|http_broken/);
    expect(logged).toHaveLength(1);
    expect(String((logged[0] as { error: Error }).error.message)).toMatch(/priority/);
  });
});
