import { loadMigrations } from '../../src/db/migrate.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  Arbiter,
  QueuesNotFoundError,
  SchemaNotMigratedError,
  SchemaTooNewError,
  type Job,
} from '../../src/index.js';
import { createWorker, type Worker, type WorkerEvents } from '../../src/worker/index.js';
import { uniqueName, useTestDb } from '../support/db.js';
import { count, FAST, SLOW_POLL_MS, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

const extraSchemas: string[] = [];
afterAll(async () => {
  for (const s of extraSchemas) await t.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

const noop = { handler: async () => undefined };

/** Every event a worker emits, in order (name and payload). */
function record(w: Worker): { name: string; event: unknown }[] {
  const seen: { name: string; event: unknown }[] = [];
  const names: (keyof WorkerEvents)[] = [
    'worker:started',
    'worker:stopped',
    'worker:queues-missing',
    'worker:queue-appeared',
    'listener:connected',
    'maintenance:leader',
    'error',
  ];
  for (const name of names) w.on(name, (event) => seen.push({ name, event }));
  return seen;
}

/** A worker on `arbiter` whose start is expected to fail: returns the rejection and what it emitted. */
async function failedStart(arbiter: Arbiter, options: Record<string, unknown>) {
  const worker = createWorker({ ...FAST, arbiter, queues: { any: noop }, ...options });
  const events = record(worker as unknown as Worker);
  const error = await worker.start().then(
    () => null,
    (err: unknown) => err,
  );
  await worker.wait(); // a worker whose start failed is stopped
  return { worker, error, events };
}

async function newSchema(prefix: string, setup: (arbiter: Arbiter, schema: string) => Promise<void>) {
  const schema = uniqueName(prefix);
  extraSchemas.push(schema);
  await setup(new Arbiter({ pool: t.pool, schema }), schema);
  // A fresh Arbiter: nothing about the schema is cached yet.
  return new Arbiter({ pool: t.pool, schema });
}

describe('worker start: queues', () => {
  it('rejects with one QueuesNotFoundError naming every missing queue, served or cron target', async () => {
    await t.arbiter.createQueue('sc_present');
    const { error, events, worker } = await failedStart(t.arbiter, {
      workerId: 'sc-missing-queues',
      queues: { sc_present: noop, sc_typo: noop, sc_other: noop },
      cron: [{ name: 'sc-nightly', queue: 'sc_cron_target', pattern: '0 3 * * *' }],
    });
    expect(error).toBeInstanceOf(QueuesNotFoundError);
    const e = error as QueuesNotFoundError;
    expect(e.code).toBe('QUEUE_NOT_FOUND');
    expect(e.queues).toEqual(['sc_typo', 'sc_other', 'sc_cron_target']);
    expect(e.message).toContain('"sc_typo", "sc_other", "sc_cron_target"');
    expect(e.message).toContain('waitForQueues');
    // Nothing registered, nothing emitted, nothing scheduled; the worker cannot be started again.
    expect(await count(t.pool, t.schema, '_workers', `id = 'sc-missing-queues'`)).toBe(0);
    expect(await count(t.pool, t.schema, '_cron', `name = 'sc-nightly'`)).toBe(0);
    expect(events).toEqual([]);
    await expect(worker.start()).rejects.toThrow(/cannot start: it is stopped/);
  });
});

describe('worker start: schema', () => {
  it('a missing schema: SchemaNotMigratedError (missing), nothing registered or emitted', async () => {
    const arbiter = await newSchema('sc_none', async () => undefined);
    const { error, events } = await failedStart(arbiter, {});
    expect(error).toBeInstanceOf(SchemaNotMigratedError);
    expect((error as SchemaNotMigratedError).state).toBe('missing');
    expect((error as Error).message).toMatch(/does not exist; run `arbiter migrate --schema sc_none_\w+`/);
    expect(events).toEqual([]);
  });

  it('a schema without migrations: SchemaNotMigratedError (not-migrated)', async () => {
    const arbiter = await newSchema('sc_bare', (_, schema) =>
      t.pool.query(`CREATE SCHEMA "${schema}"`).then(() => undefined),
    );
    const { error, events } = await failedStart(arbiter, {});
    expect(error).toBeInstanceOf(SchemaNotMigratedError);
    expect((error as SchemaNotMigratedError).state).toBe('not-migrated');
    expect(events).toEqual([]);
  });

  it('a schema behind this version: SchemaNotMigratedError (behind) with both versions', async () => {
    const arbiter = await newSchema('sc_old', async (a, schema) => {
      await a.migrate();
      await a.createQueue('any');
      await t.pool.query(
        `DELETE FROM "${schema}"._migrations WHERE version = (SELECT max(version) FROM "${schema}"._migrations)`,
      );
    });
    const { error, events } = await failedStart(arbiter, {});
    expect(error).toBeInstanceOf(SchemaNotMigratedError);
    const e = error as SchemaNotMigratedError;
    expect(e.state).toBe('behind');
    // The version shipped before the latest (numbers may skip: migrations are numbered per branch).
    expect(e.found).toBe(loadMigrations().at(-2)!.version);
    expect(e.expected).toBe(loadMigrations().at(-1)!.version);
    expect(events).toEqual([]);
  });

  it('a schema migrated by a newer version: SchemaTooNewError, nothing registered', async () => {
    const arbiter = await newSchema('sc_new', async (a, schema) => {
      await a.migrate();
      await a.createQueue('any');
      await t.pool.query(`INSERT INTO "${schema}"._migrations (version, name) VALUES (9999, 'future')`);
    });
    const { error, events } = await failedStart(arbiter, { workerId: 'sc-too-new' });
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect((error as Error).message).toMatch(/at migration 9999 .* upgrade pg-arbiter/);
    expect(events).toEqual([]);
    expect(await count(t.pool, arbiter.schema, '_workers')).toBe(0);
  });
});

describe('worker start: waitForQueues', () => {
  it('reports the missing queues once and serves one created later (found by the periodic check)', async () => {
    const present = await t.arbiter.createQueue<{ n: number }>('sc_wait_present');
    const done: string[] = [];
    const handler = async (job: Job<{ n: number }>) => void done.push(`${job.queue}:${job.payload.n}`);
    const missing: WorkerEvents['worker:queues-missing'][] = [];
    const appeared: string[] = [];
    const errors: unknown[] = [];
    const w = createWorker({
      ...FAST,
      arbiter: t.arbiter,
      listen: false, // no NOTIFY: only the periodic check can find the new queue
      waitForQueues: true,
      queues: { sc_wait_present: { handler }, sc_wait_later: { handler } },
    });
    w.on('worker:queues-missing', (e) => missing.push(e));
    w.on('worker:queue-appeared', (e) => appeared.push(e.queue));
    w.on('error', (e) => errors.push(e.error));
    await w.start();
    try {
      expect(missing).toEqual([{ workerId: w.id, queues: ['sc_wait_later'] }]);
      await present.enqueue({ n: 1 });
      await waitFor(() => done.includes('sc_wait_present:1'), 'the existing queue served');

      const later = await t.arbiter.createQueue<{ n: number }>('sc_wait_later');
      await later.enqueue({ n: 2 });
      await waitFor(() => done.includes('sc_wait_later:2'), 'the queue created after start served');
      expect(appeared).toEqual(['sc_wait_later']);
      expect(missing).toHaveLength(1);
      // Waiting cost no claim on the missing queue: no error was reported for it.
      expect(errors).toEqual([]);
    } finally {
      await w.stop();
    }
  });

  it('a job announced on a queue it waits for is picked up at once, long before the next check', async () => {
    const done: number[] = [];
    await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL_MS,
      waitForQueues: true,
      queues: {
        sc_wait_notify: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) },
      },
    });
    const q = await t.arbiter.createQueue<{ n: number }>('sc_wait_notify');
    await q.enqueue({ n: 7 });
    await waitFor(() => done.includes(7), 'the job woken by its NOTIFY', 4_000);
  });

  it('cron schedules into a queue it waits for fire once the queue exists', async () => {
    const done: string[] = [];
    const errors: string[] = [];
    const w = createWorker({
      ...FAST,
      arbiter: t.arbiter,
      waitForQueues: true,
      queues: { sc_cron_q: { handler: async (job: Job) => void done.push(String(job.meta?.cron)) } },
      cron: [{ name: 'sc-every-second', queue: 'sc_cron_q', pattern: '* * * * * *' }],
      cronCheckIntervalMs: 100,
    });
    w.on('error', (e) => errors.push(e.context));
    await w.start();
    try {
      // While the queue is missing, the schedule's ticks wait instead of failing.
      await waitFor(
        async () => (await count(t.pool, t.schema, '_cron', `name = 'sc-every-second'`)) === 1,
        'the schedule registered',
      );
      await t.arbiter.createQueue('sc_cron_q');
      await waitFor(() => done.includes('sc-every-second'), 'a cron job run after the queue appeared');
      expect(errors).toEqual([]);
    } finally {
      await w.stop();
    }
  });
});
