// Server-side cost of the tracking trigger for plain jobs: bulk DELETEs (500 rows by id, as the worker's
// ack) on a queue table with its <q>_track trigger, against the same table without it, alternated.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Arbiter } from '../dist/index.js';
const DB = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const schema = 'bench_flows_trigger';
const c = new pg.Client({ connectionString: DB });
await c.connect();
await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const arbiter = new Arbiter({ connectionString: DB, schema });
await arbiter.migrate();
await arbiter.createQueue('with_trigger');
await arbiter.createQueue('without');
await c.query(`DROP TRIGGER without_track ON ${schema}.without`);
const N = 20_000;
const round = async (table) => {
  await c.query(
    `INSERT INTO ${schema}.${table} (payload) SELECT jsonb_build_object('i', g) FROM generate_series(1, ${N}) g`,
  );
  const { rows } = await c.query(`SELECT id FROM ${schema}.${table} ORDER BY id`);
  const ids = rows.map((r) => r.id);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 500) {
    await c.query({
      name: `del_${table}`,
      text: `DELETE FROM ${schema}.${table} WHERE id = ANY($1::bigint[])`,
      values: [ids.slice(i, i + 500)],
    });
  }
  return performance.now() - t0;
};
const a = [],
  b = [];
for (let r = 0; r < Number(process.argv[2] ?? 12); r++) {
  if (r % 2) {
    a.push(await round('with_trigger'));
    b.push(await round('without'));
  } else {
    b.push(await round('without'));
    a.push(await round('with_trigger'));
  }
}
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
console.log(
  `delete ${N} rows in 500s: with trigger ${med(a).toFixed(1)} ms, without ${med(b).toFixed(1)} ms, ratio ${(med(a) / med(b)).toFixed(3)}`,
);
console.log('with', a.map((x) => x.toFixed(0)).join(' '), '| without', b.map((x) => x.toFixed(0)).join(' '));
await c.query(`DROP SCHEMA ${schema} CASCADE`);
await c.end();
await arbiter.close();
