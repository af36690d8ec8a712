// R3 pool exhaustion: lease extensions, completions and registry heartbeats use a few reserved
// connections, so handlers (or the application) holding every connection of the shared pool for several
// lease periods cause no lease expiry, no re-run and no lost ack.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, type Job } from '../../src/index.js';
import type { Worker } from '../../src/worker/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
const LEASE_MS = 1_000;
const POOL_SIZE = 4;

/** An Arbiter on the test schema over its own small pool: the pool the handlers exhaust. */
let pool: pg.Pool;
let arbiter: Arbiter;
beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: POOL_SIZE });
  pool.on('error', () => undefined);
  arbiter = new Arbiter({ pool, schema: t.schema });
  await t.pool.query(`CREATE TABLE "${t.schema}".exec_log (job_id bigint, attempt int, queue text,
    at timestamptz NOT NULL DEFAULT clock_timestamp())`);
});
afterEach(stopAll);
let attempt = 0;
afterAll(async () => {
  await pool.end();
});

/**
 * Waits until the lease of job `id` of `queue` has been extended to more than `ms` past its claim
 * (database time): the heartbeat kept it alive that long. Read through the test's own pool.
 */
async function extendedPast(queue: string, id: string, ms: number): Promise<void> {
  await waitFor(
    async () =>
      (await count(
        t.pool,
        t.schema,
        queue,
        `id = ${BigInt(id)} AND leased_until > claimed_at + interval '${ms} ms'`,
      )) === 1,
    `job ${id}'s lease extended past ${ms} ms`,
    30_000,
    50,
  );
}

/**
 * Samples, from a connection of its own, whether any claimed job of `queue` has a lease that has run out
 * (`leased_until <= now()`, database time) or was claimed more than once. Stop it to get the worst seen.
 */
function leaseMonitor(client: pg.Client, queue: string) {
  let expired = 0;
  let reclaimed = 0;
  let stopped = false;
  let failure: unknown;
  // Sampled every 25 ms until stopped (waitFor is the suite's polling loop).
  const loop = (async () => {
    await waitFor(
      async () => {
        if (stopped) return true;
        try {
          const { rows } = await client.query<{ expired: number; reclaimed: number }>(
            `SELECT count(*) FILTER (WHERE leased_until IS NOT NULL AND leased_until <= now())::int AS expired,
                    count(*) FILTER (WHERE attempts > 1)::int AS reclaimed
             FROM "${t.schema}"."${queue}"`,
          );
          expired = Math.max(expired, rows[0]!.expired);
          reclaimed = Math.max(reclaimed, rows[0]!.reclaimed);
          return false;
        } catch (err) {
          failure = err;
          return true;
        }
      },
      'the monitor stopped',
      10 * 60_000,
      25,
    );
  })().catch((err: unknown) => (failure = err));
  const stop = async () => {
    stopped = true;
    await loop;
    if (failure !== undefined) throw failure;
    return { expired, reclaimed };
  };
  return Object.assign(stop, { expiredSoFar: () => expired });
}

function watch(w: Worker) {
  const seen = { succeeded: 0, leaseLost: 0, errors: [] as string[] };
  w.on('job:succeeded', () => seen.succeeded++);
  w.on('job:lease-lost', () => seen.leaseLost++);
  w.on('error', (e) => seen.errors.push(`${e.context}: ${String(e.error)}`));
  return seen;
}

async function execLog(queue: string): Promise<{ job_id: string; attempt: number }[]> {
  const { rows } = await t.pool.query(
    `SELECT job_id::text, attempt FROM "${t.schema}".exec_log WHERE queue = $1 ORDER BY job_id`,
    [queue],
  );
  return rows;
}

// Lease timings are real (1 s leases, heartbeats every third): on a CI machine running every file at
// once a starved attempt can miss one, so each test gets up to two more attempts.
describe('reserved connections (pool exhaustion)', () => {
  it(
    'handlers holding every pooled connection for many lease periods: each job runs once and is acked, no lease expires',
    { retry: 2 },
    async () => {
      const name = `exhaust_handlers_${++attempt}`; // a fresh queue per attempt (retries)
      const q = await arbiter.createQueue<{ n: number }>(name);
      const jobs = 6;
      await q.enqueueMany(Array.from({ length: jobs }, (_, n) => ({ payload: { n } })));
      // A healthy peer on another pool leads maintenance: it would release the jobs of a worker whose
      // registry heartbeat starved (dead-worker threshold 1.5 s, far shorter than the exhaustion).
      await t.arbiter.createQueue('exhaust_peer');
      const released: string[] = [];
      const peer = await startWorker(t.arbiter, { queues: { exhaust_peer: { handler: () => undefined } } });
      peer.on('maintenance:workers-released', (e) => released.push(...e.workers));
      await waitFor(() => peer.isLeader, 'peer leads maintenance', 5_000);
      const stopMonitor = leaseMonitor(await t.connect(), name);
      const holdMs = 3 * LEASE_MS;
      // The LISTEN and leader connections take 2 of the 4; the handlers fight over the other 2, so most of
      // them wait for a connection for several lease periods, and the pool is never free while jobs run.
      const w = await startWorker(arbiter, {
        concurrency: jobs,
        queues: {
          [name]: {
            leaseMs: LEASE_MS,
            handler: async (job: Job<{ n: number }>) => {
              const client = await pool.connect();
              try {
                // Held until the heartbeat has carried the lease through several lease periods.
                await extendedPast(name, job.id, holdMs);
                await client.query(
                  `INSERT INTO "${t.schema}".exec_log (job_id, attempt, queue) VALUES ($1, $2, $3)`,
                  [job.id, job.attempts, name],
                );
              } finally {
                client.release();
              }
            },
          },
        },
      });
      const seen = watch(w);
      await waitFor(async () => (await execLog(name)).length === jobs, 'every job executed', 30_000, 50);
      await waitFor(() => seen.succeeded === jobs, 'every job acked', 10_000);
      const { expired, reclaimed } = await stopMonitor();

      const log = await execLog(name);
      expect(new Set(log.map((r) => r.job_id)).size).toBe(jobs); // each job exactly once…
      expect(log.every((r) => r.attempt === 1)).toBe(true); // …on its first attempt
      expect(await count(t.pool, t.schema, name)).toBe(0); // acked (deleted)
      expect(expired).toBe(0);
      expect(reclaimed).toBe(0);
      expect(seen.leaseLost).toBe(0);
      expect(seen.errors).toEqual([]);
      expect(released).not.toContain(w.id);
    },
  );

  it(
    'the application holding every pooled connection: running jobs keep their leases and finished jobs are acked meanwhile',
    { retry: 2 },
    async () => {
      const name = `exhaust_app_${++attempt}`; // a fresh queue per attempt (retries)
      const q = await arbiter.createQueue<{ n: number }>(name);
      const jobs = 4;
      const stopMonitor = leaseMonitor(await t.connect(), name);
      const started: string[] = [];
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      const w = await startWorker(arbiter, {
        concurrency: jobs,
        queues: {
          [name]: {
            leaseMs: LEASE_MS,
            handler: async (job: Job<{ n: number }>) => {
              started.push(job.id);
              await finished;
            },
          },
        },
      });
      const seen = watch(w);
      await q.enqueueMany(Array.from({ length: jobs }, (_, n) => ({ payload: { n } })));
      await waitFor(() => started.length === jobs, 'every job started', 10_000);

      // The application takes every connection the worker's listener and leader left in the pool.
      const held: pg.PoolClient[] = [];
      try {
        while (pool.totalCount < POOL_SIZE || pool.idleCount > 0) held.push(await pool.connect());
        expect(pool.idleCount).toBe(0);
        // Running jobs keep their leases: carried through several lease periods while the pool is held.
        for (const id of started) await extendedPast(name, id, 3 * LEASE_MS);
        finish();
        const heldAt = Date.now();
        // Acked while the pool is still exhausted: the jobs are gone, seen from another connection.
        await waitFor(
          async () => (await count(t.pool, t.schema, name)) === 0,
          'acked during exhaustion',
          10_000,
        );
        expect(Date.now() - heldAt).toBeLessThan(6 * LEASE_MS); // well before the application lets go
        expect(seen.succeeded).toBe(jobs);
      } finally {
        for (const c of held) c.release();
      }
      const { expired, reclaimed } = await stopMonitor();
      expect(expired).toBe(0);
      expect(reclaimed).toBe(0);
      expect(started.length).toBe(jobs);
      expect(seen.leaseLost).toBe(0);
      expect(seen.errors).toEqual([]);
    },
  );

  it(
    'without a reserve (reservedConnections: 0) the same exhaustion lets leases run out: the test can fail',
    { retry: 2 },
    async () => {
      const name = `exhaust_noreserve_${++attempt}`; // a fresh queue per attempt (retries)
      const q = await arbiter.createQueue<{ n: number }>(name);
      const stopMonitor = leaseMonitor(await t.connect(), name);
      let started = 0;
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      await startWorker(arbiter, {
        concurrency: 2,
        reservedConnections: 0,
        queues: {
          [name]: {
            leaseMs: LEASE_MS,
            handler: async () => {
              started++;
              await finished;
            },
          },
        },
      });
      await q.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
      await waitFor(() => started === 2, 'both jobs started', 10_000);
      const held: pg.PoolClient[] = [];
      // Keep taking every connection that comes back: a worker query in flight when the pool first looks
      // exhausted returns its connection afterwards, and a heartbeat would otherwise get it.
      let grabbing = true;
      const grabber = (async () => {
        while (grabbing) {
          if (pool.totalCount < POOL_SIZE || pool.idleCount > 0) held.push(await pool.connect());
          else await new Promise((r) => setImmediate(r));
        }
      })();
      try {
        await waitFor(() => stopMonitor.expiredSoFar() > 0, 'a lease run out', 10 * LEASE_MS);
      } finally {
        finish();
        grabbing = false;
        await grabber;
        for (const c of held) c.release();
      }
      const { expired } = await stopMonitor();
      expect(expired).toBeGreaterThan(0);
    },
  );
});
