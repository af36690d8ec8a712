import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import type { Job } from '../../src/index.js';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
afterEach(stopAll);

beforeAll(() => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
});

describe('durable steps over HTTP', () => {
  it("shows a waiting job's steps and wait, explains it, and POST /events releases it", async () => {
    const q = await db.arbiter.createQueue<{ id: string }>('hs_orders');
    const got: unknown[] = [];
    await startWorker(db.arbiter, {
      queues: {
        hs_orders: {
          handler: async (job: Job<{ id: string }>, ctx) => {
            await ctx.step('reserve', () => ({ sku: 'a', qty: 1 }));
            got.push(await ctx.waitFor(`shipped:${job.payload.id}`, { timeoutMs: 3_600_000 }));
          },
        },
      },
    });
    const job = (await q.enqueue({ id: 'o7' }))!;
    await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    const steps = await call(app, 'GET', `/queues/hs_orders/jobs/${job.id}/steps`);
    expect(steps.status).toBe(200);
    expect(steps.body.steps).toMatchObject([
      { name: 'reserve', kind: 'step', result: { sku: 'a', qty: 1 }, attempt: 1 },
    ]);
    expect(steps.body.waiting).toMatchObject({ kind: 'event', event: 'shipped:o7', step: '$wait:1' });
    const why = await call(app, 'GET', `/queues/hs_orders/jobs/${job.id}/why`);
    expect(why.body.reasons[0].code).toBe('waiting-event');
    expect(why.body.reasons[0].text).toContain('Waiting for event "shipped:o7" until ');
    const ev = await call(app, 'GET', '/events/shipped%3Ao7');
    expect(ev.body).toMatchObject({ name: 'shipped:o7', waiting: 1, emits: 0 });
    const emitted = await call(app, 'POST', '/events/shipped%3Ao7', { payload: { carrier: 'ups' } });
    expect(emitted).toMatchObject({ status: 200, body: { released: 1 } });
    await waitFor(() => got.length === 1, 'the job ran past its wait');
    expect(got).toEqual([{ carrier: 'ups' }]);
    expect((await call(app, 'GET', '/events/never')).status).toBe(404);
    expect((await call(app, 'POST', '/events/%24x', {})).status).toBe(400);
    expect((await call(app, 'POST', '/events/x', { bogus: 1 })).status).toBe(400);
    expect((await call(app, 'GET', `/queues/nope/jobs/1/steps`)).status).toBe(404);
  });

  it('explains a sleeping job', async () => {
    const q = await db.arbiter.createQueue('hs_sleep');
    await startWorker(db.arbiter, {
      queues: { hs_sleep: { handler: async (_job, ctx) => ctx.sleep(3_600_000) } },
    });
    const job = (await q.enqueue({}))!;
    await waitFor(() => q.jobs.waiting(job.id), 'the job sleeps');
    const why = await q.jobs.why(job.id);
    expect(why!.reasons.map((r) => r.code)).toEqual(['sleeping']);
    expect(why!.reasons[0]!.text).toMatch(/^Sleeping until \d{4}-/);
  });
});
