import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  Arbiter,
  JobFailedError,
  ResultNotFoundError,
  ResultTimeoutError,
  ValidationError,
} from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

afterEach(stopAll);

describe('awaitable results', () => {
  it('resolves with the handler result, and the record stays readable', async () => {
    const q = await t.arbiter.createQueue<{ n: number }, { doubled: number }>('res_ok');
    const handle = await q.enqueue({ n: 21 }, { result: true });
    await startWorker(t.arbiter, {
      queues: { res_ok: { handler: async (job) => ({ doubled: (job.payload as { n: number }).n * 2 }) } },
    });
    const value = await handle.result({ timeoutMs: 30_000 });
    expect(value).toEqual({ doubled: 42 });
    const rec = await q.jobs.result(handle.id);
    expect(rec.state).toBe('succeeded');
    expect(rec.value).toEqual({ doubled: 42 });
    expect(rec.finishedAt).toBeInstanceOf(Date);
    expect(rec.expiresAt!.getTime()).toBeGreaterThan(rec.finishedAt!.getTime() + 23 * 3600 * 1000);
    // The job itself left its queue as usual.
    expect(await count(t.pool, t.schema, 'res_ok')).toBe(0);
  });

  it('rejects with the final error when the job is dead-lettered, and when it is cancelled', async () => {
    const q = await t.arbiter.createQueue<{ k: string }>('res_fail');
    const dead = await q.enqueue({ k: 'dead' }, { result: true, maxAttempts: 2 });
    const cancelled = await q.enqueue({ k: 'later' }, { result: { retainMs: 60_000 }, delayMs: 3_600_000 });
    await startWorker(t.arbiter, {
      queues: {
        res_fail: {
          handler: async () => {
            throw new Error('card declined');
          },
          backoff: { type: 'linear', delayMs: 10, maxMs: 10 },
        },
      },
    });
    const err = await dead.result({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).state).toBe('failed');
    expect((err as JobFailedError).reason).toContain('card declined');

    const waiting = cancelled.result({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(await q.jobs.cancel(cancelled.id)).toBe(1);
    const c = await waiting;
    expect(c).toBeInstanceOf(JobFailedError);
    expect((c as JobFailedError).state).toBe('cancelled');
    expect((await q.jobs.result(cancelled.id)).state).toBe('cancelled');
  });

  it('is awaited from another process by id, and times out with a typed error', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('res_remote');
    const handle = await q.enqueue({ n: 1 }, { result: true });
    // A second Arbiter on its own pool stands for another process.
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 3 });
    const other = new Arbiter({ pool, schema: t.schema });
    try {
      const early = await other
        .queue('res_remote')
        .awaitResult(handle.id, { timeoutMs: 50 })
        .catch((e: unknown) => e);
      expect(early).toBeInstanceOf(ResultTimeoutError);
      const remote = other
        .queue<{ n: number }, string>('res_remote')
        .awaitResult(handle.id, { timeoutMs: 30_000 });
      await startWorker(t.arbiter, { queues: { res_remote: { handler: async () => 'done remotely' } } });
      expect(await remote).toBe('done remotely');
      // Already finished: answered from the record at once.
      expect(await other.queue('res_remote').awaitResult(handle.id)).toBe('done remotely');
    } finally {
      await other.close();
      await pool.end();
    }
  });

  it('plain jobs keep no record; bad options write nothing', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('res_plain');
    const plain = (await q.enqueue({ n: 1 }))!;
    expect(plain.meta).toBeNull();
    await expect(q.jobs.result(plain.id)).rejects.toBeInstanceOf(ResultNotFoundError);
    await expect(q.enqueue({ n: 2 }, { result: true, idempotencyKey: 'k' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.enqueue({ n: 2 }, { result: { retainMs: -1 } })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.enqueue({ n: 2 }, { meta: { arbiter: 1 } })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.enqueueMany([{ payload: { n: 3 }, result: true }])).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await count(t.pool, t.schema, 'res_plain')).toBe(1);
    expect(await count(t.pool, t.schema, '_tracked_jobs', `queue = 'res_plain'`)).toBe(0);
    // A plain job's run records nothing.
    await startWorker(t.arbiter, { queues: { res_plain: { handler: async () => 'x' } } });
    await waitFor(async () => (await count(t.pool, t.schema, 'res_plain')) === 0, 'plain job done');
    expect(await count(t.pool, t.schema, '_tracked_jobs')).toBeGreaterThanOrEqual(0);
    expect(await count(t.pool, t.schema, '_tracked_jobs', `queue = 'res_plain'`)).toBe(0);
  });

  it('the manual claim/ack path records the result too, inside the caller transaction for the enqueue', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('res_manual');
    const client = await t.pool.connect();
    let id: string;
    try {
      await client.query('BEGIN');
      const h = await q.enqueue({ n: 5 }, { result: true, tx: client });
      id = h.id;
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await expect(q.jobs.result(id)).rejects.toBeInstanceOf(ResultNotFoundError);
    const h = await q.enqueue({ n: 6 }, { result: true });
    const [job] = await q.claim();
    expect(job!.id).toBe(h.id);
    expect(await q.ack(job!, { result: { ok: 6 } })).toBe(1);
    expect(await h.result()).toEqual({ ok: 6 });
  });

  it('records past their retention are pruned by the maintenance leader', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('res_prune');
    const short = await q.enqueue({ n: 1 }, { result: { retainMs: 1 } });
    const long = await q.enqueue({ n: 2 }, { result: true });
    await startWorker(t.arbiter, { queues: { res_prune: { handler: async () => 'ok' } } });
    expect(await short.result({ timeoutMs: 30_000 })).toBe('ok');
    expect(await long.result({ timeoutMs: 30_000 })).toBe('ok');
    await waitFor(
      async () => (await count(t.pool, t.schema, '_tracked_jobs', `queue = 'res_prune'`)) === 1,
      'the short-lived record pruned',
      30_000,
    );
    await expect(q.jobs.result(short.id)).rejects.toBeInstanceOf(ResultNotFoundError);
    expect((await q.jobs.result(long.id)).value).toBe('ok');
  });
});
