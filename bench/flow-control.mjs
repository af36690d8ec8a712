// Flow-control workloads of bench/run.mjs (docs/flow-control.md): the queue cap and bucket, limits per
// key, fair share across keys, and claims with key limits over a deep queue. The helpers come from
// run.mjs, so every workload runs the same default worker and the same fresh schema per run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

export function flowControlWorkloads({
  DB,
  QUICK,
  here,
  value,
  sleep,
  pct,
  fresh,
  fill,
  processAll,
  startWorker,
}) {
  return {
    async 'limits: 10k groups, queue cap 1,000 vs none (rate ratio)'() {
      // 20k jobs over 10k groups drained by a default worker, without limits and then with a queue cap
      // (maxInFlight 1,000, never reached by 16 slots): what admitting every claim costs (the claim's
      // transaction, the limits row lock, counting the leases). Extra: jobs/s with and without.
      const rate = async (cap) => {
        const { arbiter, q } = await fresh(cap ? 'limits_cap' : 'limits_none');
        await fill(q, 20_000, (i) => ({ groupKey: `g${i % 10_000}` }));
        if (cap) await arbiter.setQueueLimits('q', { maxInFlight: cap });
        const s = await processAll(arbiter, q, 20_000);
        await arbiter.close();
        return 20_000 / s;
      };
      const none = await rate(null);
      const capped = await rate(1000);
      return { value: capped / none, unit: 'ratio', extra: [capped, none] };
    },
    async 'rate: 500/s bucket, 4 worker processes (achieved rate)'() {
      // A token bucket of 500 jobs/s (burst 500) shared by 4 worker processes (default configuration each)
      // over a deep backlog: the jobs started per second, measured after the first 2 s (the burst), over
      // --rate-seconds (default 10; 60 for the long run). Extra: the error against 500, in %.
      const seconds = Number(value('rate-seconds', 10));
      const { arbiter, q, schema } = await fresh('rate');
      await fill(q, 500 * (seconds + 6));
      await arbiter.setQueueLimits('q', { rate: { perSecond: 500, burst: 500 } });
      const procs = Array.from({ length: 4 }, () =>
        spawn(process.execPath, [join(here, 'worker-process.mjs'), schema], {
          env: { ...process.env, DATABASE_URL: DB },
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      await Promise.all(procs.map((p) => new Promise((r) => p.stdout.once('data', r))));
      const total = await q.jobs.count();
      await sleep(2000);
      const a = total - (await q.jobs.count());
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const b = total - (await q.jobs.count());
      const achieved = (b - a) / ((performance.now() - t0) / 1000);
      await Promise.all(procs.map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')))));
      await arbiter.close();
      return { value: achieved, unit: 'jobs/s', extra: [((achieved - 500) / 500) * 100] };
    },
    async 'limits per key: 20k jobs over 1,000 keys, cap 3 per key vs none (rate ratio)'() {
      // 20k ungrouped jobs over 1,000 limit keys drained by a default worker, without limits and then with
      // a per-key cap of 3 (never the bottleneck with 16 slots over 1,000 keys): what claiming key by key in
      // turns costs against the plain claim. Extra: jobs/s with and without.
      const rate = async (perKey) => {
        const { arbiter, q } = await fresh(perKey ? 'keys_cap' : 'keys_none');
        await fill(q, 20_000, (i) => ({ limitKey: `k${i % 1000}` }));
        if (perKey) await arbiter.setQueueLimits('q', { perKey });
        const s = await processAll(arbiter, q, 20_000);
        await arbiter.close();
        return 20_000 / s;
      };
      const none = await rate(null);
      const keyed = await rate({ maxInFlight: 3 });
      return { value: keyed / none, unit: 'ratio', extra: [keyed, none] };
    },
    async "fairness: tenant B behind tenant A's 100k backlog, B wait p99 with fair share (ms)"() {
      // Tenant A has 100k ready jobs; tenant B then enqueues 100 jobs at 10/s. Handlers take 2 ms, so a
      // default worker (16 slots) needs seconds to drain A. B's wait (enqueue to handler start) with fair
      // share across keys (perKey: {}), then the same run without it (the queue's plain order). A B job
      // not started after 60 s counts with the time it had waited. Extra: p50 with, p50 / p99 without.
      const nA = QUICK ? 20_000 : 100_000;
      const run = async (fair) => {
        const { arbiter, q } = await fresh(fair ? 'fair_on' : 'fair_off');
        await fill(q, nA, () => ({ limitKey: 'a' }));
        if (fair) await arbiter.setQueueLimits('q', { perKey: {} });
        const sent = new Map();
        const waits = [];
        const worker = await startWorker(arbiter, async (job) => {
          if (job.payload.b !== undefined) waits.push(performance.now() - sent.get(job.payload.b));
          await sleep(2);
        });
        for (let i = 0; i < 100; i++) {
          sent.set(i, performance.now());
          await q.enqueue({ b: i }, { limitKey: 'b' });
          await sleep(100);
        }
        const deadline = Date.now() + 60_000;
        while (waits.length < 100 && Date.now() < deadline) await sleep(20);
        await worker.stop({ timeoutMs: 2000 });
        await arbiter.close();
        const now = performance.now();
        for (let i = waits.length; i < 100; i++) waits.push(now - sent.get(i));
        waits.sort((a, b) => a - b);
        return [pct(waits, 50), pct(waits, 99)];
      };
      const [p50, p99] = await run(true);
      const [u50, u99] = await run(false);
      return { value: p99, unit: 'ms', extra: [p50, u50, u99], lowerIsBetter: true };
    },
    async 'depth with key limits: 1M queued vs 10k (rate ratio)'() {
      // The depth workload on a keyed queue (perKey maxInFlight 8): 20k ready jobs over 100 keys, behind
      // them a backlog in one more key that is not due for an hour. Claims visit every key, the backlog's
      // too, and must not walk its jobs: the rate holds as the backlog grows. Extra: jobs/s at each depth.
      const rate = async (depth) => {
        const { arbiter, q, schema } = await fresh(`kdepth_${depth}`);
        await fill(q, depth - 20_000, () => ({ limitKey: 'cold', delayMs: 3_600_000 }));
        await fill(q, 20_000, (i) => ({ limitKey: `k${i % 100}` }));
        await arbiter.setQueueLimits('q', { perKey: { maxInFlight: 8 } });
        const admin = new pg.Client({ connectionString: DB });
        await admin.connect();
        await admin.query(`ANALYZE ${schema}.q`);
        const left = async () =>
          Number(
            (
              await admin.query(
                `SELECT count(*) AS n FROM ${schema}.q WHERE group_key IS NULL AND NOT suspended
               AND coalesce(meta ->> 'arbiter:key', '') >= 'k' AND coalesce(meta ->> 'arbiter:key', '') < 'l'`,
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
  };
}
