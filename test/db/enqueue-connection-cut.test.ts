// R3 "connection cut during enqueue commit": the caller gets a typed OutcomeUnknownError (never a silent
// success, never an untyped error), and a retry with the same idempotency key leaves exactly one job,
// whether the cut came before the commit (nothing written) or after it (written, answer lost).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, OutcomeUnknownError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startProxy, type Proxy } from '../support/proxy.js';

const t = useTestDb();

const QUEUE = 'cut';
let proxy: Proxy;
let viaProxy: Arbiter;
let direct: Arbiter;

beforeAll(async () => {
  proxy = await startProxy(databaseUrl());
  viaProxy = new Arbiter({ connectionString: proxy.url, schema: t.schema, poolSize: 2 });
  const app = new URL(databaseUrl());
  app.searchParams.set('application_name', 'arbiter-enqueue-cut');
  direct = new Arbiter({ connectionString: app.toString(), schema: t.schema, poolSize: 2 });
  await t.arbiter.createQueue(QUEUE);
});
afterAll(async () => {
  await viaProxy?.close();
  await direct?.close();
  await proxy?.close();
});

async function rowsWithKey(key: string): Promise<number> {
  const { rows } = await t.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${t.schema}"."${QUEUE}" WHERE idempotency_key = $1`,
    [key],
  );
  return rows[0]!.n;
}

async function enqueueError(arbiter: Arbiter, key: string, n: number): Promise<unknown> {
  try {
    await arbiter.queue(QUEUE).enqueue({ n }, { idempotencyKey: key });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('connection cut during enqueue', () => {
  it('cut while the insert waits on a lock (not committed): OutcomeUnknownError, and the retry inserts exactly one job (50 trials)', async () => {
    const locker = await t.connect();
    try {
      for (let i = 0; i < 50; i++) {
        const key = `before-commit-${i}`;
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE "${t.schema}"."${QUEUE}" IN SHARE MODE`);
        const pending = enqueueError(direct, key, i);
        // The enqueuing backend, blocked on our lock: terminate it in the middle of its insert.
        let pid: number | undefined;
        for (let tries = 0; pid === undefined && tries < 400; tries++) {
          const { rows } = await t.pool.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
           WHERE application_name = 'arbiter-enqueue-cut' AND wait_event_type = 'Lock'`,
          );
          pid = rows[0]?.pid;
          if (pid === undefined) await new Promise((r) => setTimeout(r, 5));
        }
        expect(pid, 'enqueue blocked on the lock').toBeDefined();
        await t.pool.query('SELECT pg_terminate_backend($1)', [pid]);
        const err = await pending;
        await locker.query('ROLLBACK');

        expect(err).toBeInstanceOf(OutcomeUnknownError);
        expect((err as OutcomeUnknownError).code).toBe('OUTCOME_UNKNOWN');
        expect(await rowsWithKey(key)).toBe(0);
        const retried = await direct.queue(QUEUE).enqueue({ n: i }, { idempotencyKey: key });
        expect(retried?.idempotencyKey).toBe(key);
        expect(await rowsWithKey(key)).toBe(1);
      }
    } finally {
      // Never leave the table locked for the tests that follow.
      await locker.query('ROLLBACK').catch(() => undefined);
    }
  });

  it('cut after the insert committed (answer lost): OutcomeUnknownError, and the retry returns the same job (200 trials)', async () => {
    for (let i = 0; i < 200; i++) {
      const key = `after-commit-${i}`;
      proxy.cutAfterAnswer(key);
      const err = await enqueueError(viaProxy, key, i);
      expect(err).toBeInstanceOf(OutcomeUnknownError);
      // It did happen: the retry must not add a second job.
      expect(await rowsWithKey(key)).toBe(1);
      const retried = await viaProxy.queue(QUEUE).enqueue({ n: i }, { idempotencyKey: key });
      expect(retried).not.toBeNull();
      expect(await rowsWithKey(key)).toBe(1);
      const { rows } = await t.pool.query<{ id: string }>(
        `SELECT id::text FROM "${t.schema}"."${QUEUE}" WHERE idempotency_key = $1`,
        [key],
      );
      expect(retried!.id).toBe(rows[0]!.id);
    }
  });

  it('a plain enqueue (coalesced by the batcher) cut after commit also reports OutcomeUnknownError', async () => {
    const marker = 'plain-cut-marker';
    proxy.cutAfterAnswer(marker);
    const err = await viaProxy
      .queue(QUEUE)
      .enqueue({ marker })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}"."${QUEUE}" WHERE payload->>'marker' = $1`,
      [marker],
    );
    expect(rows[0]!.n).toBe(1);
    // The pool recovered: the next enqueue works.
    expect(await viaProxy.queue(QUEUE).enqueue({ after: true })).not.toBeNull();
  });

  it('a transaction cut while its COMMIT is answered (enqueueTree) reports OutcomeUnknownError; it did commit', async () => {
    const marker = 'tree-cut-marker';
    proxy.cutAfterAnswer('COMMIT');
    const err = await viaProxy
      .queue(QUEUE)
      .enqueueTree({ payload: { tree: marker }, children: [{ payload: { tree: marker } }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}"."${QUEUE}" WHERE payload->>'tree' = $1`,
      [marker],
    );
    expect(rows[0]!.n).toBe(2);
  });
});
