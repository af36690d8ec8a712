import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { ValidationError } from '../../src/errors.js';
import {
  createAdminApp,
  InsecureBindError,
  isLoopback,
  serveAdmin,
  type AdminServer,
} from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { AUTH, call, JSON_HEADERS, leaks, schemaChecksum, TOKEN } from './helpers.js';

const db = useTestDb();
const Q = 'http_sec';
const silent = { error() {} };
let app: Hono;
let readOnly: Hono;
let mutating: { method: string; path: string }[];

beforeAll(async () => {
  // These apps see many deliberate wrong logins from one address; the limiter has its own tests below.
  const common = {
    arbiter: db.arbiter,
    auth: { token: TOKEN },
    allowClaim: true,
    logger: silent,
    maxFailedLogins: 1e6,
  };
  app = createAdminApp(common);
  readOnly = createAdminApp({ ...common, readOnly: true });
  await db.arbiter.createQueue(Q);
  await db.arbiter.queue(Q).enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'real' })));
  const doc = (await call(app, 'GET', '/openapi.json')).body as {
    paths: Record<string, Record<string, unknown>>;
  };
  mutating = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => m !== 'get')
      .map((method) => ({
        method: method.toUpperCase(),
        path: path.replace('{queue}', Q).replace('{id}', '1').replace('{groupKey}', 'real'),
      })),
  );
});

/** Runs `fn` and asserts the schema's tables are byte-for-byte the same afterwards. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
  const before = await schemaChecksum(db.pool, db.schema);
  await fn();
  expect(await schemaChecksum(db.pool, db.schema)).toBe(before);
}

describe('R7: every mutating route from the OpenAPI document', () => {
  it('covers the routes we expect', () => {
    expect(mutating.length).toBeGreaterThanOrEqual(20);
    expect(mutating).toContainEqual({ method: 'DELETE', path: `/queues/${Q}` });
    expect(mutating).toContainEqual({ method: 'POST', path: `/queues/${Q}/claim` });
  });

  it('401 without credentials, 403 read-only, 403 cross-site, 415 non-JSON; database unchanged', async () => {
    await unchanged(async () => {
      for (const { method, path } of mutating) {
        const body = '{}';
        const cases: [string, Hono, Record<string, string>, number, string][] = [
          ['no credentials', app, { 'content-type': 'application/json' }, 401, 'UNAUTHORIZED'],
          [
            'wrong token',
            app,
            { 'content-type': 'application/json', authorization: 'Bearer wrong-token-xx' },
            401,
            'UNAUTHORIZED',
          ],
          ['read-only', readOnly, JSON_HEADERS, 403, 'READ_ONLY'],
          ['evil origin', app, { ...JSON_HEADERS, origin: 'https://evil.example' }, 403, 'CROSS_SITE'],
          ['cross-site fetch', app, { ...JSON_HEADERS, 'sec-fetch-site': 'cross-site' }, 403, 'CROSS_SITE'],
          ['text/plain', app, { ...AUTH, 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
          [
            'form',
            app,
            { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' },
            415,
            'UNSUPPORTED_MEDIA_TYPE',
          ],
        ];
        for (const [label, target, headers, status, code] of cases) {
          const res = await call(target, method, path, body, headers);
          expect({ label, method, path, status: res.status, code: res.body?.error?.code }).toEqual({
            label,
            method,
            path,
            status,
            code,
          });
          expect(leaks(res.text)).toEqual([]);
        }
      }
    });
  });

  it('lets same-origin browsers and trusted origins through', async () => {
    const same = await call(app, 'POST', `/queues/${Q}/pause`, '{}', {
      ...JSON_HEADERS,
      origin: 'http://localhost',
      'sec-fetch-site': 'same-origin',
    });
    expect(same.status).toBe(200);
    const trusting = createAdminApp({
      arbiter: db.arbiter,
      auth: { token: TOKEN },
      trustedOrigins: ['https://ui.example'],
    });
    const ui = await call(trusting, 'POST', `/queues/${Q}/resume`, '{}', {
      ...JSON_HEADERS,
      origin: 'https://ui.example',
      'sec-fetch-site': 'cross-site',
    });
    expect(ui.status).toBe(200);
    const other = await call(trusting, 'POST', `/queues/${Q}/resume`, '{}', {
      ...JSON_HEADERS,
      origin: 'https://evil.example',
    });
    expect(other.status).toBe(403);
  });

  it('reads still work in read-only mode', async () => {
    expect((await call(readOnly, 'GET', `/queues/${Q}/jobs`, undefined, AUTH)).status).toBe(200);
  });
});

describe('security headers', () => {
  it('are on success, error, 404 and 500 responses', async () => {
    await db.arbiter.createQueue('http_headers_broken');
    await db.pool.query(`ALTER TABLE "${db.schema}".http_headers_broken DROP COLUMN priority CASCADE`);
    const responses = [
      await call(app, 'GET', '/queues', undefined, AUTH),
      await call(app, 'GET', '/queues', undefined, {}),
      await call(app, 'GET', '/nope', undefined, AUTH),
      await call(app, 'POST', `/queues/${Q}/jobs`, '{', JSON_HEADERS),
      await call(app, 'GET', '/queues/http_headers_broken/jobs', undefined, AUTH),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 400, 500]);
    for (const r of responses) {
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });
});

describe('authentication', () => {
  it('accepts basic auth, rejects the wrong password', async () => {
    const basic = createAdminApp({ arbiter: db.arbiter, auth: { username: 'ops', password: 's3cret!' } });
    const good = `Basic ${Buffer.from('ops:s3cret!').toString('base64')}`;
    const bad = `Basic ${Buffer.from('ops:s3cret?').toString('base64')}`;
    expect((await call(basic, 'GET', '/queues', undefined, { authorization: good })).status).toBe(200);
    const denied = await call(basic, 'GET', '/queues', undefined, { authorization: bad });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('refuses half or weak credential configurations at construction', () => {
    expect(() => createAdminApp({ arbiter: db.arbiter, auth: { username: 'ops' } })).toThrow(/go together/);
    expect(() => createAdminApp({ arbiter: db.arbiter, auth: { token: 'short' } })).toThrow(/at least 8/);
    expect(() => createAdminApp({ arbiter: db.arbiter, auth: { username: 'a:b', password: 'x' } })).toThrow(
      /colon/,
    );
    // A typed error naming the option, and never the secret itself.
    let refused: unknown;
    try {
      createAdminApp({ arbiter: db.arbiter, auth: { token: 'hunter2' } });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused).toMatchObject({ field: 'auth.token', code: 'INVALID_ARGUMENT' });
    expect(String((refused as Error).message)).not.toContain('hunter2');
    expect(JSON.stringify((refused as ValidationError).value)).not.toContain('hunter2');
    expect(() => createAdminApp({ arbiter: db.arbiter, maxBodyBytes: 0 })).toThrow(ValidationError);
  });

  it('is off only when no credentials are configured', async () => {
    const open = createAdminApp({ arbiter: db.arbiter });
    expect((await call(open, 'GET', '/queues', undefined, {})).status).toBe(200);
  });

  it('limits failed logins per address: 429 after 10 within a minute, other addresses unaffected', async () => {
    let address = '10.0.0.1';
    const limited = createAdminApp({
      arbiter: db.arbiter,
      auth: { token: TOKEN },
      clientAddress: () => address,
    });
    for (let i = 0; i < 10; i++) {
      expect(
        (await call(limited, 'GET', '/queues', undefined, { authorization: 'Bearer nope-nope-nope' })).status,
      ).toBe(401);
    }
    const blocked = await call(limited, 'GET', '/queues', undefined, AUTH);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('RATE_LIMITED');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    address = '10.0.0.2';
    expect((await call(limited, 'GET', '/queues', undefined, AUTH)).status).toBe(200);
  });
});

describe('serveAdmin', () => {
  const servers: AdminServer[] = [];
  afterAll(async () => Promise.all(servers.map((s) => s.close())));

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '', '10.0.0.1', 'example.com', '128.0.0.1'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('refuses a non-loopback host without credentials', async () => {
    await expect(serveAdmin({ arbiter: db.arbiter, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      InsecureBindError,
    );
    await expect(serveAdmin({ arbiter: db.arbiter, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /without credentials/,
    );
  });

  it('starts on a non-loopback host with credentials or insecure: true', async () => {
    servers.push(await serveAdmin({ arbiter: db.arbiter, host: '0.0.0.0', port: 0, auth: { token: TOKEN } }));
    servers.push(await serveAdmin({ arbiter: db.arbiter, host: '0.0.0.0', port: 0, insecure: true }));
    const res = await fetch(`http://127.0.0.1:${servers[0]!.port}/queues`);
    expect(res.status).toBe(401);
  });

  it('over real HTTP: body-less mutation without Content-Type is 415, with a body 400', async () => {
    const server = await serveAdmin({ arbiter: db.arbiter, port: 0, auth: { token: TOKEN } });
    servers.push(server);
    const post = (init: RequestInit) => fetch(`${server.url}/queues/${Q}/pause`, { method: 'POST', ...init });
    const bare = await post({ headers: AUTH });
    expect(bare.status).toBe(415);
    const withBody = await post({ headers: AUTH, body: new TextEncoder().encode('{}') });
    expect(withBody.status).toBe(400);
    const ok = await post({ headers: JSON_HEADERS });
    expect(ok.status).toBe(200);
    await db.arbiter.resumeQueue(Q);
  });

  it('over real HTTP: a chunked body over the limit is cut off with 413', async () => {
    const server = await serveAdmin({
      arbiter: db.arbiter,
      port: 0,
      auth: { token: TOKEN },
      maxBodyBytes: 4096,
    });
    servers.push(server);
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${server.url}/queues/${Q}/jobs`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE');
  });

  it('counts failed logins by socket address over real HTTP', async () => {
    const server = await serveAdmin({ arbiter: db.arbiter, port: 0, auth: { token: TOKEN } });
    servers.push(server);
    const get = (token: string) =>
      fetch(`${server.url}/queues`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 10; i++) expect((await get('wrong-wrong-wrong')).status).toBe(401);
    const res = await get(TOKEN);
    expect(res.status).toBe(429);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
