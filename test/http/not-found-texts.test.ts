import { describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();

describe('404 texts', () => {
  it('name the API, not the library', async () => {
    for (const path of ['/queues/hw_nope/jobs', '/queues/hw_nope/stats', '/queues/hw_nope/dead-letters']) {
      const res = await call(createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN } }), 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.message, path).toBe('queue "hw_nope" does not exist (POST /queues creates it)');
    }
  });
});
