// The 'process, concurrency 16' workload on a queue with its <q>_track trigger and on one without,
// alternated in one sitting (same build), to see what the trigger costs plain jobs.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Arbiter } from '../dist/index.js';
import { createWorker } from '../dist/worker/index.js';
const DB = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function run(withTrigger) {
  const schema = `bench_flows_ab_${withTrigger ? 'with' : 'without'}`;
  const c = new pg.Client({ connectionString: DB });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const arbiter = new Arbiter({ connectionString: DB, schema, poolSize: 20 });
  await arbiter.migrate();
  const q = await arbiter.createQueue('q');
  if (!withTrigger) await c.query(`DROP TRIGGER q_track ON ${schema}.q`);
  const n = 20_000;
  for (let i = 0; i < n; i += 1000)
    await q.enqueueManyCount(Array.from({ length: 1000 }, (_, k) => ({ payload: { i: i + k } })));
  let done = 0,
    finish;
  const all = new Promise((r) => (finish = r));
  const t0 = performance.now();
  const w = createWorker({
    arbiter,
    concurrency: 16,
    handleSignals: false,
    queues: {
      q: {
        handler: async () => {
          if (++done === n) finish();
        },
      },
    },
  });
  await w.start();
  await all;
  while ((await q.jobs.count()) > 0) await sleep(2);
  const s = (performance.now() - t0) / 1000;
  await w.stop({ timeoutMs: 2000 });
  await arbiter.close();
  await c.query(`DROP SCHEMA ${schema} CASCADE`);
  await c.end();
  return n / s;
}
const a = [],
  b = [];
const rounds = Number(process.argv[2] ?? 6);
for (let r = 0; r < rounds; r++) {
  if (r % 2) {
    a.push(await run(true));
    b.push(await run(false));
  } else {
    b.push(await run(false));
    a.push(await run(true));
  }
  console.error(`round ${r}: with ${a.at(-1).toFixed(0)} without ${b.at(-1).toFixed(0)}`);
}
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
console.log(
  `process 20k: with trigger ${med(a).toFixed(0)} jobs/s, without ${med(b).toFixed(0)} jobs/s, ratio ${(med(a) / med(b)).toFixed(3)}`,
);
