import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll } from '../worker/helpers.js';
import { AUTH, call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
afterEach(stopAll);

beforeAll(() => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
});

/** Reads server-sent events from a response body, one { event, data } at a time. */
async function* readEvents(res: Response): AsyncGenerator<{ event: string; data: unknown }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buf += value;
    let at: number;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) as unknown };
    }
  }
}

describe('job reports over HTTP', () => {
  it('GET /report gives the report (null before any), 404 only for an unknown queue', async () => {
    const q = await db.arbiter.createQueue('hr_plain');
    const job = (await q.enqueue({}))!;
    const none = await call(app, 'GET', `/queues/hr_plain/jobs/${job.id}/report`);
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ report: null });
    const [claimed] = await q.claim({ leaseMs: 60_000 });
    await db.arbiter.store('hr_plain').writeProgress({
      id: claimed!.id,
      attempts: 1,
      progress: '{"done":3,"of":4}',
      meta: '{"file":"a.csv"}',
      logs: `[{"at":${Date.now()},"attempt":1,"message":"hello"}]`,
    });
    const res = await call(app, 'GET', `/queues/hr_plain/jobs/${job.id}/report`);
    expect(res.body.report).toMatchObject({
      attempt: 1,
      progress: { done: 3, of: 4 },
      meta: { file: 'a.csv' },
      logs: [{ attempt: 1, message: 'hello' }],
    });
    expect((await call(app, 'GET', `/queues/no_such_q/jobs/${job.id}/report`)).status).toBe(404);
    expect((await call(app, 'GET', `/queues/hr_plain/jobs/abc/report`)).status).toBe(400);
  });

  it('GET /events streams the job and its report live, then ends when the job finished', async () => {
    const q = await db.arbiter.createQueue('hr_live');
    let step!: () => void;
    const steps: Promise<void>[] = [];
    const next = () => steps.push(new Promise<void>((r) => (step = r)));
    next();
    await startWorker(db.arbiter, {
      queues: {
        hr_live: {
          handler: async (_job, ctx) => {
            ctx.progress(25);
            ctx.log('a quarter');
            await steps[0];
            ctx.progress(100);
          },
        },
      },
    });
    const job = (await q.enqueue({}))!;
    const res = await app.request(`http://localhost/queues/hr_live/jobs/${job.id}/events`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const seen: { event: string; data: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    let released = false;
    for await (const e of readEvents(res)) {
      seen.push(e as (typeof seen)[number]);
      if (!released && e.event === 'report' && (e.data as { progress?: number } | null)?.progress === 25) {
        released = true;
        step();
      }
      if (e.event === 'end') break;
    }
    const reports = seen.filter((e) => e.event === 'report' && e.data !== null).map((e) => e.data.progress);
    expect(reports).toContain(25);
    expect(reports.at(-1)).toBe(100);
    const jobs = seen.filter((e) => e.event === 'job');
    expect(jobs.at(-1)!.data).toBeNull();
    expect(jobs.some((e) => e.data?.status === 'in-flight')).toBe(true);
    expect(seen.at(-1)!.event).toBe('end');
  });

  it('GET /attempts lists every failed attempt; empty for a job that never failed', async () => {
    const q = await db.arbiter.createQueue('hr_att');
    const job = (await q.enqueue({}))!;
    expect((await call(app, 'GET', `/queues/hr_att/jobs/${job.id}/attempts`)).body).toEqual({ items: [] });
    const [c] = await q.claim({ leaseMs: 60_000, workerId: 'w-http' });
    await db.arbiter.store('hr_att').complete([
      {
        fence: { id: c!.id, attempts: 1 },
        inTree: false,
        action: { type: 'retry', delayMs: 0, error: 'nope' },
      },
    ]);
    const res = await call(app, 'GET', `/queues/hr_att/jobs/${job.id}/attempts`);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      expect.objectContaining({
        attempt: 1,
        error: 'nope',
        workerId: 'w-http',
        durationMs: expect.any(Number),
      }),
    ]);
    expect((await call(app, 'GET', `/queues/no_such_q/jobs/${job.id}/attempts`)).status).toBe(404);
  });

  it('GET /events: 404 for a job that neither exists nor reported, 401 without credentials', async () => {
    await db.arbiter.createQueue('hr_none');
    const missing = await call(app, 'GET', '/queues/hr_none/jobs/424242/events');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('JOB_NOT_FOUND');
    const anon = await call(app, 'GET', '/queues/hr_none/jobs/1/events', undefined, {});
    expect(anon.status).toBe(401);
  });
});
