import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { ALL_ROUTES, createAdminApp } from '../../src/http/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { useTestDb } from '../support/db.js';
import { call } from './helpers.js';

const db = useTestDb();

async function document(options: { allowClaim?: boolean; metrics?: boolean } = {}) {
  const metrics = options.metrics ? createMetrics({ arbiter: db.arbiter, intervalMs: 0 }) : undefined;
  const app = createAdminApp({ arbiter: db.arbiter, allowClaim: options.allowClaim, metrics });
  const res = await call(app, 'GET', '/openapi.json', undefined, {});
  expect(res.status).toBe(200);
  return res.body;
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (full variant)', async () => {
    const doc = await document({ allowClaim: true, metrics: true });
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('is valid without the optional routes too', async () => {
    const result = await validate(structuredClone(await document()));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('rejects a broken document (the validator really checks)', async () => {
    const doc = await document();
    doc.paths['/queues'].get.responses = 'nope';
    expect((await validate(doc)).valid).toBe(false);
  });

  it('documents every served route, each with a unique operationId', async () => {
    const doc = await document({ allowClaim: true, metrics: true });
    for (const r of ALL_ROUTES) expect(doc.paths[r.path]?.[r.method]?.operationId).toBe(r.operationId);
    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops as object).map((o) => o.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/metrics']).toBeDefined();
  });

  it('matches what the router serves: every documented GET route answers something other than 404 NOT_FOUND', async () => {
    const app = createAdminApp({ arbiter: db.arbiter, allowClaim: true });
    const doc = await document({ allowClaim: true });
    for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) {
      if (!('get' in ops)) continue;
      const url = path.replace('{queue}', 'no_such_q').replace('{id}', '1').replace('{groupKey}', 'g');
      const res = await call(app, 'GET', url, undefined, {});
      expect(res.body?.error?.code, url).not.toBe('NOT_FOUND');
    }
  });
});
