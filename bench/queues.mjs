// Workload `queues` (npm run bench -- --only queues): what one worker costs and how fast it is when it
// serves many queues. Prints one line per figure:
//   - idle transactions/s of a default worker over 1, 100 and 1,000 queues with no jobs anywhere, counted
//     by pg_stat_database (xact_commit + xact_rollback) on a database of its own (<db>_queues), so other
//     clients of the server do not count; the first 20 s after start (the first claim of every queue and
//     the settling of their bounds) are left out;
//   - wake-up p50: enqueue into a random served queue until the handler starts, 40 times, one at a time;
//   - process rate of 20,000 jobs spread over 1,000 queues (20 each) against 20,000 in one queue.
// The 1,000 queues are created once per process and reused by every run; removed at exit (uninstall).
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import { Arbiter } from '../dist/index.js';
import { createWorker } from '../dist/worker/index.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// BENCH_SCHEMA_PREFIX keeps runs that share the database (several checkouts at once) apart.
const SCHEMA = `${process.env.BENCH_SCHEMA_PREFIX ?? 'bench_arbiter'}_queues`;
const MAX = 1_000;
const names = Array.from({ length: MAX }, (_, i) => `q${i}`);
let setup;

async function database(db) {
  const url = new URL(db);
  const own = `${url.pathname.slice(1) || 'postgres'}_queues`;
  const admin = new pg.Client({ connectionString: db });
  await admin.connect();
  const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [own]);
  if (rows.length === 0) await admin.query(`CREATE DATABASE "${own}"`);
  await admin.end();
  url.pathname = `/${own}`;
  return url.toString();
}

async function prepare(db) {
  const url = await database(db);
  const arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 20 });
  await arbiter.uninstall({ force: true });
  await arbiter.migrate();
  const t0 = performance.now();
  for (let i = 0; i < MAX; i += 25)
    await arbiter.db.query(
      `SELECT "${SCHEMA}"._create_queue('q' || g) FROM generate_series($1::int, $1::int + 24) g`,
      [i],
    );
  const createMs = (performance.now() - t0) / MAX;
  // Steady state: every queue's bound settled (a new queue starts due until a worker's claim or the
  // maintenance leader settles it, 64 a round).
  for (;;) {
    const { rows } = await arbiter.db.query(
      `SELECT count("${SCHEMA}"._queue_settle(d.queue))::int AS n FROM (
         SELECT queue FROM "${SCHEMA}"._queue_due WHERE due_at = '-infinity' LIMIT 50) d`,
    );
    if (rows[0].n === 0) break;
  }
  // The cost of one more queue once there are 1,000.
  const t1 = performance.now();
  await arbiter.createQueue('extra');
  const extraMs = performance.now() - t1;
  await arbiter.dropQueue('extra');
  return { url, arbiter, createMs, extraMs };
}

function worker(arbiter, n, onJob, concurrency = 16) {
  const queues = Object.fromEntries(
    names.slice(0, n).map((q) => [q, { handler: async (job) => onJob(job) }]),
  );
  return createWorker({ arbiter, concurrency, handleSignals: false, queues });
}

async function transactions(client) {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query(
    'SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return rows[0].n;
}

async function idleAndWake(url, arbiter, n) {
  let started = () => undefined;
  const w = worker(arbiter, n, () => started());
  await w.start();
  await sleep(20_000);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const a = await transactions(admin);
  const t0 = performance.now();
  await sleep(10_000);
  const b = await transactions(admin);
  // Our own two statistics reads count too: take them out.
  const idle = (b - a - 2) / ((performance.now() - t0) / 1000);
  await admin.end();
  const waits = [];
  for (let i = 0; i < 40; i++) {
    const q = arbiter.queue(names[Math.floor(Math.random() * n)]);
    const ran = new Promise((r) => (started = r));
    const t = performance.now();
    await q.enqueue({ i });
    await ran;
    waits.push(performance.now() - t);
    await sleep(50);
  }
  await w.stop({ timeoutMs: 2000 });
  waits.sort((x, y) => x - y);
  return { idle, p50: waits[Math.floor(waits.length / 2)] };
}

async function processRate(arbiter, queues) {
  const per = 20_000 / queues;
  for (const name of names.slice(0, queues)) {
    const q = arbiter.queue(name);
    for (let i = 0; i < per; i += 1000)
      await q.enqueueManyCount(
        Array.from({ length: Math.min(1000, per - i) }, (_, k) => ({ payload: { i: i + k } })),
      );
  }
  let done = 0;
  let finish;
  const all = new Promise((r) => (finish = r));
  const t0 = performance.now();
  const w = worker(arbiter, queues, () => {
    if (++done === 20_000) finish();
  });
  await w.start();
  await all;
  await w.stop({ timeoutMs: 5000 });
  return 20_000 / ((performance.now() - t0) / 1000);
}

/**
 * One run: prints its figures, returns the spread ratio (the 20k over 1,000 queues against one queue).
 * `spreadOnly` (run.mjs --queues-spread): only the process rates, not the idle and wake-up figures.
 */
export async function queuesWorkload(db, log = console.log, spreadOnly = false) {
  setup ??= await prepare(db);
  const { url, arbiter, createMs, extraMs } = setup;
  log(`  queues: createQueue ${createMs.toFixed(0)} ms each for 1,000; the 1,001st ${extraMs.toFixed(0)} ms`);
  const idle = {};
  for (const n of spreadOnly ? [] : [1, 100, 1000]) {
    idle[n] = await idleAndWake(url, arbiter, n);
    log(
      `  queues: worker over ${String(n).padStart(4)} queues: idle ${idle[n].idle.toFixed(1)} transactions/s, wake-up p50 ${idle[n].p50.toFixed(1)} ms`,
    );
  }
  const one = await processRate(arbiter, 1);
  const spread = await processRate(arbiter, 1000);
  log(
    `  queues: 20,000 jobs in 1 queue ${Math.round(one)} jobs/s; over 1,000 queues ${Math.round(spread)} jobs/s (${((spread / one) * 100).toFixed(0)}%)`,
  );
  return { value: spread / one, unit: '× (20k over 1,000 queues / 20k in one queue)' };
}

export async function queuesCleanup() {
  if (!setup) return;
  await setup.arbiter.uninstall({ force: true });
  await setup.arbiter.close();
  setup = undefined;
}
