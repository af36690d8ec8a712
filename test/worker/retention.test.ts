import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/index.js';
import { QueueNotFoundError, ValidationError, type Job, type Queue } from '../../src/index.js';
import { WorkerEventEmitter, type JobContext } from '../../src/worker/index.js';
import { DEFAULT_RETENTION } from '../../src/core/retention.js';
import { RetentionPruner, type PruneReport } from '../../src/worker/retention.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const db = useTestDb({ poolSize: 20 });
afterEach(stopAll);

const DAY = 86_400_000;

/** Finished jobs as the history table holds them, `ageMs` old, ids from `firstId`. */
async function seedHistory(queue: string, firstId: number, n: number, ageMs: number, tag = 'old') {
  await db.pool.query(
    `INSERT INTO "${db.schema}"."${queue}_history" (id, payload, priority, attempts, max_attempts, is_rollup,
       created_at, finished_at)
     SELECT $1::bigint + i, jsonb_build_object('tag', $4::text, 'n', i), 0, 1, 25, false,
       now() - $3::bigint * interval '1 ms', now() - $3::bigint * interval '1 ms' + i * interval '1 ms'
     FROM generate_series(0, $2::int - 1) i`,
    [firstId, n, ageMs, tag],
  );
}

/** Dead letters `ageMs` old (each a little newer than the one before). */
async function seedDead(queue: string, n: number, ageMs: number, tag = 'old') {
  await db.pool.query(
    `INSERT INTO "${db.schema}"."${queue}_dlq" (job_id, payload, priority, attempts, max_attempts, is_rollup,
       created_at, failed_at, last_error)
     SELECT 1000000 + i, jsonb_build_object('tag', $3::text, 'n', i), 0, 25, 25, false,
       now() - $2::bigint * interval '1 ms', now() - $2::bigint * interval '1 ms' + i * interval '1 ms', 'boom'
     FROM generate_series(0, $1::int - 1) i`,
    [n, ageMs, tag],
  );
}

function pruner(opts: { batchRows?: number; roundRows?: number } = {}) {
  const events = new WorkerEventEmitter();
  const reports: PruneReport[] = [];
  events.on('maintenance:pruned', (e) => reports.push(e));
  return { p: new RetentionPruner({ arbiter: db.arbiter, events, ...opts }), reports, events };
}

describe('retention settings', () => {
  it('start at the documented defaults and are shown with the queue', async () => {
    await db.arbiter.createQueue('ret_defaults');
    const info = await db.arbiter.getQueue('ret_defaults');
    expect(info!.retention).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION).toEqual({
      historyMaxAgeMs: 14 * DAY,
      historyMaxCount: 1_000_000,
      deadLetterMaxAgeMs: 30 * DAY,
      deadLetterMaxCount: null,
      statsMaxAgeMs: 7 * DAY,
    });
    expect((await db.arbiter.listQueues()).find((q) => q.name === 'ret_defaults')!.retention).toEqual(
      DEFAULT_RETENTION,
    );
  });

  it('change per key: a number, null for no limit, default to go back; others stay', async () => {
    await db.arbiter.createQueue('ret_set');
    let r = await db.arbiter.setQueueRetention('ret_set', { historyMaxAgeMs: DAY, deadLetterMaxCount: 50 });
    expect(r).toEqual({ ...DEFAULT_RETENTION, historyMaxAgeMs: DAY, deadLetterMaxCount: 50 });
    r = await db.arbiter.setQueueRetention('ret_set', { historyMaxCount: null });
    expect(r).toEqual({
      ...DEFAULT_RETENTION,
      historyMaxAgeMs: DAY,
      historyMaxCount: null,
      deadLetterMaxCount: 50,
    });
    r = await db.arbiter.setQueueRetention('ret_set', { historyMaxAgeMs: 'default' });
    expect(r.historyMaxAgeMs).toBe(DEFAULT_RETENTION.historyMaxAgeMs);
    expect((await db.arbiter.getQueue('ret_set'))!.retention).toEqual(r);
  });

  it('refuse bad input with a typed error and write nothing', async () => {
    await db.arbiter.createQueue('ret_bad');
    await db.arbiter.setQueueRetention('ret_bad', { historyMaxCount: 10 });
    const bad: unknown[] = [
      { historyMaxAgeMs: 10 }, // shorter than a minute
      { historyMaxCount: -1 },
      { historyMaxCount: 1.5 },
      { deadLetterMaxAgeMs: '7d' },
      { statsMaxAgeMs: 59_999 },
      { historyMaxCount: 5, statsMaxAgeMs: -1 },
      { historyMaxCount: 5, keepForever: true },
      null,
      [],
    ];
    for (const patch of bad) {
      await expect(db.arbiter.setQueueRetention('ret_bad', patch as never)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    await expect(
      db.arbiter.setQueueRetention('ret_bad', { historyMaxCount: 5, nope: 1 } as never),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'retention.nope',
    });
    expect((await db.arbiter.getQueue('ret_bad'))!.retention.historyMaxCount).toBe(10);
    await expect(db.arbiter.setQueueRetention('ret_missing', { historyMaxCount: 1 })).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
    await expect(db.arbiter.setQueueRetention('Bad Name', {})).rejects.toMatchObject({
      code: 'INVALID_IDENTIFIER',
    });
  });
});

describe('pruning', () => {
  it('by age: only rows past the limit go, in bounded rounds that resume', async () => {
    await db.arbiter.createQueue('ret_age');
    await db.arbiter.setQueueRetention('ret_age', { historyMaxAgeMs: DAY, deadLetterMaxAgeMs: 2 * DAY });
    await seedHistory('ret_age', 1, 45, 3 * DAY); // past
    await seedHistory('ret_age', 1000, 10, DAY / 2, 'young'); // kept
    await seedDead('ret_age', 30, 3 * DAY);
    await seedDead('ret_age', 5, 1.5 * DAY, 'young');
    const { p, reports } = pruner({ batchRows: 7, roundRows: 20 });
    const deleted: number[] = [];
    for (let round = 0; round < 10; round++) {
      const r = await p.round();
      const n = r.filter((x) => x.queue === 'ret_age').reduce((a, x) => a + x.count, 0);
      deleted.push(n);
      if (n === 0) break;
    }
    // Never more than a round's budget at once, and the work resumed until done.
    expect(Math.max(...deleted)).toBeLessThanOrEqual(20);
    expect(deleted.reduce((a, b) => a + b, 0)).toBe(75);
    expect(await count(db.pool, db.schema, 'ret_age_history')).toBe(10);
    expect(await count(db.pool, db.schema, 'ret_age_history', `payload->>'tag' = 'young'`)).toBe(10);
    expect(await count(db.pool, db.schema, 'ret_age_dlq')).toBe(5);
    expect(await count(db.pool, db.schema, 'ret_age_dlq', `payload->>'tag' = 'young'`)).toBe(5);
    const total = (table: string) =>
      reports
        .filter((r) => r.queue === 'ret_age' && r.table === table && r.reason === 'age')
        .reduce((a, r) => a + r.count, 0);
    expect(total('history')).toBe(45);
    expect(total('dead-letters')).toBe(30);
  });

  it('by count: the newest rows are kept', async () => {
    await db.arbiter.createQueue('ret_count');
    await db.arbiter.setQueueRetention('ret_count', {
      historyMaxAgeMs: null,
      historyMaxCount: 12,
      deadLetterMaxAgeMs: null,
      deadLetterMaxCount: 3,
    });
    await seedHistory('ret_count', 1, 40, DAY);
    await seedDead('ret_count', 9, DAY);
    const { p, reports } = pruner({ batchRows: 5, roundRows: 1_000 });
    await p.round();
    expect(await count(db.pool, db.schema, 'ret_count_history')).toBe(12);
    // Seeded with increasing finish times: the survivors are the 12 newest.
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT (payload->>'n')::int AS n FROM "${db.schema}".ret_count_history ORDER BY 1`,
    );
    expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 12 }, (_, i) => 28 + i));
    const dead = await db.pool.query<{ n: number }>(
      `SELECT (payload->>'n')::int AS n FROM "${db.schema}".ret_count_dlq ORDER BY 1`,
    );
    expect(dead.rows.map((r) => r.n)).toEqual([6, 7, 8]);
    expect(reports.filter((r) => r.queue === 'ret_count')).toEqual([
      { queue: 'ret_count', table: 'history', reason: 'count', count: 28 },
      { queue: 'ret_count', table: 'dead-letters', reason: 'count', count: 6 },
    ]);
    // Nothing more to do: a second round deletes nothing.
    expect((await p.round()).filter((r) => r.queue === 'ret_count')).toEqual([]);
  });

  it('by count: rows finished in the same microsecond are cut by id, exactly', async () => {
    await db.arbiter.createQueue('ret_same');
    await db.arbiter.setQueueRetention('ret_same', {
      historyMaxAgeMs: null,
      historyMaxCount: 10,
      deadLetterMaxAgeMs: null,
      deadLetterMaxCount: 4,
    });
    // One statement, one now(): every row has the same finish time, with microseconds.
    await db.pool.query(
      `INSERT INTO "${db.schema}".ret_same_history (id, payload, priority, attempts, max_attempts, is_rollup,
         created_at, finished_at)
       SELECT i, jsonb_build_object('n', i), 0, 1, 25, false, now(), '2026-01-01 00:00:00.123456+00'
       FROM generate_series(1, 30) i`,
    );
    await db.pool.query(
      `INSERT INTO "${db.schema}".ret_same_dlq (job_id, payload, priority, attempts, max_attempts, is_rollup,
         created_at, failed_at)
       SELECT i, jsonb_build_object('n', i), 0, 1, 25, false, now(), '2026-01-01 00:00:00.654321+00'
       FROM generate_series(1, 9) i`,
    );
    const { p } = pruner({ batchRows: 7 });
    await p.round();
    const ids = async (table: string, col: string) =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT (payload->>'n')::int AS n FROM "${db.schema}"."${table}" ORDER BY ${col}`,
        )
      ).rows.map((r) => r.n);
    expect(await ids('ret_same_history', 'id')).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    expect(await ids('ret_same_dlq', 'id')).toEqual([6, 7, 8, 9]);
  });

  it("keeps a dead child while its parent is live (the parent's rollup reads it), prunes it after", async () => {
    const q = await db.arbiter.createQueue<{ part: number }>('ret_tree');
    await db.arbiter.setQueueRetention('ret_tree', { deadLetterMaxAgeMs: 60_000 });
    const tree = await q.enqueueTree({
      payload: { part: 0 },
      rollup: true,
      children: [{ payload: { part: 1 } }, { payload: { part: 2 } }],
    });
    const [child] = await q.claim({ limit: 1 });
    expect(child!.parentId).toBe(tree.job.id);
    expect(await q.dlq.move(child!, 'child failed')).toBeGreaterThan(0);
    await db.pool.query(`UPDATE "${db.schema}".ret_tree_dlq SET failed_at = now() - interval '1 day'`);
    const { p } = pruner();
    await p.round();
    expect(await count(db.pool, db.schema, 'ret_tree_dlq')).toBe(1);
    // Run the rest of the tree to its end: the rollup sees the dead child's error.
    const seen: unknown[] = [];
    for (;;) {
      const jobs = await q.claim({ limit: 10 });
      if (jobs.length === 0) break;
      for (const job of jobs) {
        if (job.id === tree.job.id)
          seen.push(...(await q.results.readChildOutcomesRaw(job.id)).dlqErrors.values());
        await q.ack(job);
      }
    }
    expect(seen).toContain('child failed');
    expect(await count(db.pool, db.schema, 'ret_tree')).toBe(0);
    await p.round();
    expect(await count(db.pool, db.schema, 'ret_tree_dlq')).toBe(0);
  });

  it('skips a queue dropped while a round runs, and counts what it pruned in Prometheus', async () => {
    await db.arbiter.createQueue('ret_metrics');
    await db.arbiter.setQueueRetention('ret_metrics', { historyMaxCount: 2 });
    await seedHistory('ret_metrics', 1, 5, 1_000);
    const { p, events } = pruner();
    const metrics = createMetrics({ arbiter: db.arbiter, intervalMs: 0 });
    metrics.attach(events);
    await db.arbiter.createQueue('ret_zz_dropped');
    // Drop a queue after the round has listed it: its deletes find no table and are skipped.
    const list = db.arbiter.db.query.bind(db.arbiter.db);
    let dropped = false;
    db.arbiter.db.query = (async (...args: Parameters<typeof list>) => {
      const res = await list(...args);
      if (!dropped && /settings -> 'retention' AS retention FROM/.test(String(args[0]))) {
        dropped = true;
        await db.pool.query(`SELECT "${db.schema}"._drop_queue('ret_zz_dropped')`);
      }
      return res;
    }) as typeof db.arbiter.db.query;
    try {
      await p.round();
    } finally {
      db.arbiter.db.query = list;
    }
    expect(dropped).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'arbiter_retention_pruned_total{queue="ret_metrics",table="history",reason="count"} 3',
    );
    metrics.stop();
  });

  it("runs in the maintenance leader's rounds", async () => {
    await db.arbiter.createQueue('ret_leader');
    await db.arbiter.setQueueRetention('ret_leader', { historyMaxAgeMs: DAY });
    await seedHistory('ret_leader', 1, 30, 2 * DAY);
    const pruned: PruneReport[] = [];
    const w = await startWorker(db.arbiter, { queues: { ret_leader: { handler: async () => {} } } });
    w.on('maintenance:pruned', (e) => pruned.push(e));
    await waitFor(
      async () => (await count(db.pool, db.schema, 'ret_leader_history')) === 0,
      'history pruned by the leader',
    );
    await waitFor(() => pruned.some((e) => e.queue === 'ret_leader'), 'the pruned event');
  });
});

describe('pruning failures', () => {
  it('are reported as errors without costing the leader its leadership', async () => {
    await db.arbiter.createQueue('ret_broken');
    await db.pool.query(`ALTER TABLE "${db.schema}".ret_broken_history RENAME COLUMN finished_at TO done_at`);
    const errors: string[] = [];
    const leadership: boolean[] = [];
    const w = await startWorker(db.arbiter, { queues: { ret_broken: { handler: async () => {} } } });
    w.on('error', (e) => errors.push(e.context));
    w.on('maintenance:leader', (e) => leadership.push(e.leader));
    await waitFor(
      () => errors.filter((c) => c === 'maintenance:retention').length >= 2,
      'two rounds reporting the retention error',
    );
    expect(leadership).not.toContain(false);
    expect(errors.filter((c) => c === 'maintenance')).toEqual([]);
    await stopAll();
    await db.arbiter.dropQueue('ret_broken');
  });
});

describe('pruning races', () => {
  it('loses nothing not past retention while workers finish jobs and operators retry dead letters', async () => {
    const name = 'ret_race';
    const q: Queue<{ tag: string; n: number }> = await db.arbiter.createQueue(name);
    await db.arbiter.setQueueRetention(name, {
      historyMaxAgeMs: 3_600_000,
      historyMaxCount: null,
      deadLetterMaxAgeMs: 3_600_000,
      deadLetterMaxCount: null,
    });
    const OLD = 300;
    const NEW = 600;
    await seedHistory(name, 10_000_000, OLD, 2 * 3_600_000, 'old-h');
    await seedDead(name, OLD, 2 * 3_600_000, 'old-d');
    await q.enqueueManyCount(Array.from({ length: NEW }, (_, n) => ({ payload: { tag: 'new', n } })));

    // Workers: even payloads are kept in the history, odd ones fail straight to the dead-letter table
    // (and again each time an operator retries them).
    for (let i = 0; i < 3; i++) {
      await startWorker(db.arbiter, {
        concurrency: 4,
        maintenance: false,
        queues: {
          [name]: {
            prefetch: 5,
            handler: async (job: Job<{ n: number }>, ctx: JobContext) =>
              job.payload.n % 2 === 0 ? ctx.keep() : ctx.fail('odd'),
          },
        },
      });
    }

    let running = true;
    const { p, reports } = pruner({ batchRows: 3, roundRows: 12 });
    const prunerLoop = (async () => {
      while (running) await p.round();
    })();
    let retried = 0;
    const operators = Array.from({ length: 3 }, async () => {
      while (running) {
        const { rows } = await db.pool.query<{ id: string }>(
          `SELECT id::text FROM "${db.schema}"."${name}_dlq" ORDER BY random() LIMIT 3`,
        );
        for (const r of rows) if (await q.dlq.retry(r.id)) retried++;
      }
    });
    await waitFor(
      async () =>
        (await count(db.pool, db.schema, name)) === 0 &&
        (await count(db.pool, db.schema, `${name}_history`, `payload->>'tag' = 'new'`)) === NEW / 2 &&
        retried > 50,
      'every new job processed while operators retried',
      60_000,
    );
    running = false;
    await Promise.all([prunerLoop, ...operators]);
    // What the operators retried last runs to its end on the workers still running.
    await waitFor(async () => (await count(db.pool, db.schema, name)) === 0, 'retried jobs finished');
    await stopAll();
    while ((await p.round()).length > 0); // work off what is still past retention, a round at a time

    const tagged = async (table: string) => {
      const { rows } = await db.pool.query<{ tag: string; n: number }>(
        `SELECT payload->>'tag' AS tag, (payload->>'n')::int AS n FROM "${db.schema}"."${table}"`,
      );
      return rows.map((r) => `${r.tag}:${r.n}`);
    };
    const present = new Set([...(await tagged(`${name}_history`)), ...(await tagged(`${name}_dlq`))]);
    // Every new job is still somewhere: kept in the history, or dead (dead letters are never past retention).
    for (let n = 0; n < NEW; n++) expect(present.has(`new:${n}`), `new:${n}`).toBe(true);
    // Nothing past retention is left.
    expect(
      (await count(db.pool, db.schema, `${name}_history`, `finished_at < now() - interval '1 hour'`)) +
        (await count(db.pool, db.schema, `${name}_dlq`, `failed_at < now() - interval '1 hour'`)),
    ).toBe(0);
    // Every old row is either pruned (and counted as such) or was retried in time and lives on.
    let oldGone = 0;
    for (let n = 0; n < OLD; n++) if (!present.has(`old-h:${n}`)) oldGone++;
    for (let n = 0; n < OLD; n++) if (!present.has(`old-d:${n}`)) oldGone++;
    const prunedTotal = reports.filter((r) => r.queue === name).reduce((a, r) => a + r.count, 0);
    expect(prunedTotal).toBe(oldGone);
    // Both sides of the race happened: old dead letters were pruned, and others were retried first.
    const oldDeadRetried = Array.from({ length: OLD }, (_, n) => present.has(`old-d:${n}`)).filter(Boolean);
    if (process.env.ARBITER_TEST_DEBUG)
      console.log({ oldGone, oldDeadRetried: oldDeadRetried.length, retried });
    expect(oldGone).toBeGreaterThan(OLD);
    expect(oldDeadRetried.length).toBeGreaterThan(0);
  });
});
