import { beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { call, TOKEN } from './helpers.js';

// POST /queues/{queue}/jobs/promote|suspend|resume { ids }: many jobs in one transaction, checked in the
// job rows; bad input is refused with a typed error and changes nothing.

const db = useTestDb();
let app: Hono;
const Q = 'http_bulk_act';
const HOUR = 3_600_000;

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.arbiter.createQueue(Q);
});

/** Every live job of the queue as the database has it: id → { suspended, due }. */
async function rows(): Promise<Map<string, { suspended: boolean; due: boolean }>> {
  const page = await db.arbiter.queue(Q).jobs.list({ limit: 1000 });
  const now = Date.now();
  return new Map(
    page.items.map((j) => [j.id, { suspended: j.suspended, due: j.runAt.getTime() <= now + 1000 }]),
  );
}

describe('bulk job actions', () => {
  it('promotes, suspends and resumes only the listed jobs the action applies to', async () => {
    const q = db.arbiter.queue(Q);
    const [a, b, c, d] = await q.enqueueMany([
      { payload: 'a', delayMs: HOUR },
      { payload: 'b', delayMs: HOUR },
      { payload: 'c', delayMs: HOUR },
      { payload: 'd' },
    ]);
    const ids = [a!.id, b!.id, c!.id, d!.id];

    // d is already due: promote skips it; c is not listed.
    const promoted = await call(app, 'POST', `/queues/${Q}/jobs/promote`, { ids: [a!.id, b!.id, d!.id] });
    expect(promoted).toMatchObject({ status: 200, body: { changed: 2 } });
    let now = await rows();
    expect(ids.map((id) => now.get(id)!.due)).toEqual([true, true, false, true]);

    const suspended = await call(app, 'POST', `/queues/${Q}/jobs/suspend`, { ids: [a!.id, c!.id, d!.id] });
    expect(suspended).toMatchObject({ status: 200, body: { changed: 3 } });
    // Already suspended: nothing changes the second time.
    const again = await call(app, 'POST', `/queues/${Q}/jobs/suspend`, { ids: [a!.id, c!.id] });
    expect(again).toMatchObject({ status: 200, body: { changed: 0 } });
    now = await rows();
    expect(ids.map((id) => now.get(id)!.suspended)).toEqual([true, false, true, true]);

    // A suspended job is not promoted.
    const notPromoted = await call(app, 'POST', `/queues/${Q}/jobs/promote`, { ids: [c!.id] });
    expect(notPromoted.body).toEqual({ changed: 0 });

    const resumed = await call(app, 'POST', `/queues/${Q}/jobs/resume`, { ids: [a!.id, b!.id, c!.id] });
    expect(resumed).toMatchObject({ status: 200, body: { changed: 2 } });
    now = await rows();
    expect(ids.map((id) => now.get(id)!.suspended)).toEqual([false, false, false, true]);
    expect(ids.map((id) => now.get(id)!.due)).toEqual([true, true, false, true]);

    // Ids that are gone are skipped, not an error.
    const gone = await call(app, 'POST', `/queues/${Q}/jobs/suspend`, { ids: ['999999999'] });
    expect(gone).toMatchObject({ status: 200, body: { changed: 0 } });
  });

  it('refuses bad input with a typed error and changes nothing', async () => {
    const q = db.arbiter.queue(Q);
    const job = (await q.enqueue('x', { delayMs: HOUR }))!;
    const before = await rows();
    for (const action of ['promote', 'suspend', 'resume'] as const) {
      const path = `/queues/${Q}/jobs/${action}`;
      const unknown = await call(app, 'POST', `/queues/no_such_q/jobs/${action}`, { ids: [job.id] });
      expect(unknown.status, action).toBe(404);
      expect(unknown.body.error.code).toBe('QUEUE_NOT_FOUND');
      const tooMany = await call(app, 'POST', path, {
        ids: [job.id, ...Array.from({ length: 1000 }, (_, i) => String(i + 1))],
      });
      expect(tooMany.status, action).toBe(400);
      expect(tooMany.body.error).toMatchObject({ code: 'BATCH_TOO_LARGE', field: 'ids' });
      const nonNumeric = await call(app, 'POST', path, { ids: [job.id, 'abc'] });
      expect(nonNumeric.status, action).toBe(400);
      expect(nonNumeric.body.error.field).toBe('ids[1]');
      const notArray = await call(app, 'POST', path, { ids: job.id });
      expect(notArray.status, action).toBe(400);
      const extra = await call(app, 'POST', path, { ids: [job.id], all: true });
      expect(extra.status, action).toBe(400);
    }
    expect(await rows()).toEqual(before);
    expect((await q.jobs.get(job.id))!.suspended).toBe(false);
  });

  it('documents the routes with the shared Ids body', async () => {
    const doc = (await call(app, 'GET', '/openapi.json')).body;
    for (const action of ['promote', 'suspend', 'resume']) {
      const op = doc.paths[`/queues/{queue}/jobs/${action}`].post;
      expect(op.operationId).toBe(`${action}Jobs`);
      expect(op.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/Ids');
    }
  });
});
