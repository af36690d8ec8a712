import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { runCli } from '../cli/helpers.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { call, TOKEN } from './helpers.js';

// A running job cancelled over HTTP or from the CLI: the worker's handler sees reason "cancelled".
const db = useTestDb();
let app: Hono;
const Q = 'http_cancel_running';
const started = new Set<string>();
const reasons = new Map<string, string>();

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.arbiter.createQueue(Q);
  await startWorker(db.arbiter, {
    concurrency: 4,
    queues: {
      [Q]: {
        leaseMs: 60_000,
        handler: async (job, { signal }) => {
          started.add(job.id);
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          reasons.set(job.id, (signal.reason as { reason: string }).reason);
        },
      },
    },
  });
});
afterAll(stopAll);

describe('cancelling a running job from outside the library', () => {
  it('POST /queues/{queue}/jobs/{id}/cancel aborts the handler with reason "cancelled"', async () => {
    const job = (await db.arbiter.queue(Q).enqueue({ n: 1 }))!;
    await waitFor(() => started.has(job.id), 'running');
    expect((await call(app, 'POST', `/queues/${Q}/jobs/${job.id}/cancel`)).body).toEqual({ changed: 1 });
    await waitFor(() => reasons.get(job.id), 'aborted');
    expect(reasons.get(job.id)).toBe('cancelled');
    expect(await db.arbiter.queue(Q).jobs.get(job.id)).toBeNull();
  });

  it('arbiter jobs cancel <queue> <id> aborts it too, and says it was running', async () => {
    const job = (await db.arbiter.queue(Q).enqueue({ n: 2 }))!;
    await waitFor(() => started.has(job.id), 'running');
    const r = await runCli(['jobs', 'cancel', Q, job.id], {
      databaseUrl: databaseUrl(),
      schema: db.schema,
      env: { NO_COLOR: '1' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Cancelled job ${job.id}. It was running: its worker aborts the handler now.`);
    await waitFor(() => reasons.get(job.id), 'aborted');
    expect(reasons.get(job.id)).toBe('cancelled');
    expect(await db.arbiter.queue(Q).jobs.stats()).toMatchObject({ total: 0, dead: 0 });
  });
});
