// One run of one workload against one job-queue system, in a fresh schema of one PostgreSQL; prints one
// JSON line. bench/run.mjs --peers runs it for every system, round-robin, and prints the ratios.
//
// usage: node bench.mjs SYSTEM WORKLOAD [N] [CONCURRENCY]         (DATABASE_URL, default the local server)
//   SYSTEM    ours | pgboss | pgboss-tuned | graphile | graphile-tuned | bullmq | bullmq-tuned
//   WORKLOAD  enqueue-batch | enqueue-single | process | latency
// The configurations of each system are described in README.md, next to this file.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const [system, workload, nArg, cArg] = process.argv.slice(2);
const N = Number(nArg ?? (workload === 'latency' ? 300 : 20_000));
const C = Number(cArg ?? 16);
const DB = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `bench_${String(system).replace(/[^a-z0-9]/g, '_')}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The installed version of a package, reported with every figure. */
function versionOf(name) {
  if (name.endsWith('package.json')) return JSON.parse(readFileSync(name, 'utf8')).version;
  const entry = createRequire(join(here, 'package.json')).resolve(name);
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (manifest.name === name) return manifest.version;
    } catch {
      // no manifest at this level; go up
    }
  }
  return 'unknown';
}

async function sql(text) {
  const client = new pg.Client({ connectionString: DB });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** Unfinished rows, so that a processing run's clock stops when the last completion is committed. */
const countOf = async (text) => Number((await sql(text))[0].count);

const quiet = () => ({ scope: quiet, info() {}, debug() {}, warn() {}, error: (m) => console.error(m) });

/**
 * Each system: open({ tuned }) → { enqueueBatch(payloads), enqueueOne(payload), startWorker(onJob),
 * remaining(), stop() }. `default` is what a user gets by following the system's documentation with the
 * concurrency C; `tuned` adds the documented options that raise throughput (README.md lists them).
 */
const systems = {
  pgboss: {
    package: 'pg-boss',
    async open(tuned) {
      const { PgBoss } = await import('pg-boss');
      // LISTEN/NOTIFY wake-ups are opt-in (useListenNotify, and notify per queue): on in both configurations,
      // as without them every job waits for a poll.
      const boss = new PgBoss({
        connectionString: DB,
        schema: SCHEMA,
        max: C + 4,
        useListenNotify: true,
        supervise: false,
        schedule: false,
      });
      boss.on('error', (e) => console.error('pg-boss error:', e.message));
      await boss.start();
      await boss.createQueue('q', { notify: true });
      const polling = { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 };
      const work = tuned
        ? {
            batchSize: 50,
            localConcurrency: Math.max(1, Math.round(C / 4)),
            burstWhenBatchFull: true,
            ...polling,
          }
        : { batchSize: 1, localConcurrency: C, ...polling };
      return {
        enqueueBatch: (payloads) =>
          boss.insert(
            'q',
            payloads.map((data) => ({ data })),
          ),
        enqueueOne: (data) => boss.send('q', data),
        startWorker: (onJob) =>
          boss.work('q', work, async (jobs) => Promise.all(jobs.map((job) => onJob(job.data)))),
        remaining: () => countOf(`SELECT count(*) FROM ${SCHEMA}.job WHERE state <> 'completed'`),
        stop: () => boss.stop({ graceful: false, timeout: 2_000 }),
      };
    },
  },
  graphile: {
    package: 'graphile-worker',
    async open(tuned) {
      const { run, makeWorkerUtils } = await import('graphile-worker');
      const worker = {
        connectionString: DB,
        schema: SCHEMA,
        concurrentJobs: C,
        maxPoolSize: C + 4,
        pollInterval: 500,
      };
      if (tuned)
        Object.assign(worker, { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 });
      const utils = await makeWorkerUtils({ connectionString: DB, schema: SCHEMA });
      await utils.migrate();
      let runner;
      return {
        enqueueBatch: (payloads) =>
          utils.addJobs(payloads.map((payload) => ({ identifier: 'noop', payload }))),
        enqueueOne: (payload) => utils.addJob('noop', payload),
        async startWorker(onJob) {
          runner = await run({
            preset: { worker },
            noHandleSignals: true,
            logger: quiet(),
            taskList: { noop: async (payload) => onJob(payload) },
          });
        },
        remaining: () => countOf(`SELECT count(*) FROM ${SCHEMA}._private_jobs`),
        async stop() {
          await runner?.stop();
          await utils.release();
        },
      };
    },
  },
  // BullMQ with the PostgreSQL backend it ships from version 6 (its default backend is Redis).
  bullmq: {
    package: 'bullmq',
    async open(tuned) {
      const { Queue, Worker, createPostgresBackend } = await import('bullmq');
      const connection = {
        connectionString: DB,
        schema: SCHEMA,
        max: tuned ? 2 * C + 4 : C + 4,
        migrate: true,
      };
      const queue = new Queue('q', { connection }, createPostgresBackend);
      await queue.waitUntilReady();
      // Finished jobs are removed, as the other systems do by default, so every system's table stays small.
      const opts = { removeOnComplete: true };
      // No option of the open-source edition batches completions (each job is one commit: finish it and
      // claim the next); tuning can only thin out the background traffic of lock renewals and stall checks.
      const tuning = tuned ? { stalledInterval: 60_000, lockDuration: 60_000 } : {};
      let worker;
      return {
        enqueueBatch: (payloads) => queue.addBulk(payloads.map((data) => ({ name: 'noop', data, opts }))),
        enqueueOne: (data) => queue.add('noop', data, opts),
        async startWorker(onJob) {
          worker = new Worker(
            'q',
            async (job) => onJob(job.data),
            { connection, concurrency: C, ...tuning },
            createPostgresBackend,
          );
          worker.on('error', (e) => console.error('bullmq error:', e.message));
          await worker.waitUntilReady();
        },
        remaining: () =>
          countOf(
            `SELECT count(*) FROM ${SCHEMA}.job WHERE queue = 'q' AND state IN ('waiting', 'active', 'delayed')`,
          ),
        async stop() {
          await worker?.close(true);
          await queue.close();
        },
      };
    },
  },
  // Arbiter through the adapter the repository's bench/run.mjs passes (ADAPTER), default ../ours-adapter.mjs.
  ours: {
    package: null,
    async open() {
      const adapter = process.env.ADAPTER ?? join(here, '..', 'ours-adapter.mjs');
      const { default: open } = await import(pathToFileURL(adapter).href);
      return open({ connectionString: DB, schema: SCHEMA, concurrency: C });
    },
  },
};

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function enqueueAll(q) {
  for (let i = 0; i < N; i += 1000) {
    await q.enqueueBatch(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })));
  }
}

const workloads = {
  async 'enqueue-batch'(q, result) {
    const t0 = performance.now();
    await enqueueAll(q);
    result.seconds = (performance.now() - t0) / 1000;
  },
  async 'enqueue-single'(q, result) {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) await q.enqueueOne({ i: next++ });
      }),
    );
    result.seconds = (performance.now() - t0) / 1000;
  },
  async process(q, result) {
    await enqueueAll(q);
    const seen = new Set();
    let calls = 0;
    let finish;
    const all = new Promise((resolve) => (finish = resolve));
    const t0 = performance.now();
    await q.startWorker(async (data) => {
      seen.add(data.i);
      if (++calls === N) finish();
    });
    await all;
    result.handlerSeconds = (performance.now() - t0) / 1000;
    while ((await q.remaining()) > 0) await sleep(5);
    result.seconds = (performance.now() - t0) / 1000;
    // Every job ran; a duplicate shows as calls > distinct (at least once is allowed, and reported).
    if (seen.size !== N) throw new Error(`${seen.size} distinct jobs of ${N} ran`);
    result.duplicates = calls - seen.size;
  },
  async latency(q, result) {
    const lat = [];
    const sentAt = new Map();
    let finish;
    const all = new Promise((resolve) => (finish = resolve));
    await q.startWorker(async (data) => {
      lat.push(performance.now() - sentAt.get(data.i));
      if (lat.length === N) finish();
    });
    await sleep(1_000);
    for (let i = 0; i < N; i++) {
      sentAt.set(i, performance.now());
      await q.enqueueOne({ i });
      await sleep(20);
    }
    const timedOut = await Promise.race([all.then(() => false), sleep(15_000).then(() => true)]);
    if (timedOut) throw new Error(`only ${lat.length} of ${N} jobs started within 15 s of the last enqueue`);
    lat.sort((a, b) => a - b);
    Object.assign(result, { p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99) });
  },
};

async function main() {
  const name = system?.replace(/-tuned$/, '');
  const spec = systems[name];
  if (!spec || !workloads[workload]) {
    console.error(
      `usage: node bench.mjs ${Object.keys(systems).join('|')}[-tuned] ${Object.keys(workloads).join('|')} [N] [C]`,
    );
    process.exit(2);
  }
  const result = {
    system,
    // Ours is the repository's own build: its version is the repository's.
    version: versionOf(spec.package ?? join(here, '..', '..', 'package.json')),
    workload,
    n: N,
    concurrency: C,
  };
  await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  const q = await spec.open(system.endsWith('-tuned'));
  try {
    await workloads[workload](q, result);
  } finally {
    await q.stop();
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  }
  if (result.seconds) result.jobsPerSec = Math.round(N / result.seconds);
  console.log(JSON.stringify(result));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
