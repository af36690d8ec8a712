// The job plan (R1 mix) and the steady-rate enqueuer. Each tick's jobs are inserted in ONE transaction
// together with their chaos.enqueued rows, so "committed jobs" is exactly the set recorded there, even
// when a crash leaves the outcome of a commit unknown.
import pg from 'pg';
import type { Arbiter } from '../src/index.js';
import type { EnqueueItem } from '../src/client/queue.js';
import type { TreeNode } from '../src/client/tree.js';
import { CHAOS, MAX_ATTEMPTS, QUEUE_LIST, rng, sleep, type ChaosPayload } from './common.js';

type Unit =
  | { type: 'plain'; queue: string; p: ChaosPayload }
  | { type: 'group'; queue: string; group: string; p: ChaosPayload }
  | { type: 'tree'; queue: string; tree: number; root: ChaosPayload; children: ChaosPayload[] };

const weight = (u: Unit) => (u.type === 'tree' ? 1 + u.children.length : 1);

/** 70% plain, 20% in groups of 20, 10% in trees of 1 rollup finalizer + 19 children; spread over 3 queues. */
export function buildPlan(total: number, seed: number): Unit[] {
  const r = rng(seed);
  let k = 0;
  const payload = (): ChaosPayload => {
    const x = r();
    return { k: k++, f: x < 0.005 ? 2 : x < 0.025 ? 1 : 0 };
  };
  const groups = Math.max(1, Math.round((total * 0.2) / 20));
  const trees = Math.max(1, Math.round((total * 0.1) / 20));
  const plain = total - groups * 20 - trees * 20;
  type Slot = { kind: 'plain' } | { kind: 'group'; g: number } | { kind: 'tree'; t: number };
  const slots: Slot[] = [];
  for (let i = 0; i < plain; i++) slots.push({ kind: 'plain' });
  for (let g = 0; g < groups; g++) for (let i = 0; i < 20; i++) slots.push({ kind: 'group', g });
  for (let t = 0; t < trees; t++) slots.push({ kind: 'tree', t });
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  let q = 0;
  return slots.map((s): Unit => {
    if (s.kind === 'plain') return { type: 'plain', queue: QUEUE_LIST[q++ % 3]!, p: payload() };
    if (s.kind === 'group')
      return { type: 'group', queue: QUEUE_LIST[s.g % 3]!, group: `g${s.g}`, p: payload() };
    const root = payload();
    const children = Array.from({ length: 19 }, payload);
    return { type: 'tree', queue: QUEUE_LIST[s.t % 3]!, tree: s.t, root, children };
  });
}

export interface EnqueueStats {
  jobs: number;
  batches: number;
  retries: number;
  doneAt: number;
}

interface Recorded {
  ids: string[];
  queue: string[];
  kind: string[];
  group: (string | null)[];
  tree: (number | null)[];
  fail: number[];
  k: number[];
}

async function insertTick(pool: pg.Pool, arbiter: Arbiter, units: Unit[], batch: number): Promise<void> {
  const client = await pool.connect();
  // A checked-out client whose connection dies emits 'error'; unhandled, that would crash the suite.
  const swallow = () => undefined;
  client.on('error', swallow);
  let broken = false;
  try {
    await client.query('BEGIN');
    const rec: Recorded = { ids: [], queue: [], kind: [], group: [], tree: [], fail: [], k: [] };
    const add = (
      id: string,
      queue: string,
      kind: string,
      group: string | null,
      tree: number | null,
      p: ChaosPayload,
    ) => {
      rec.ids.push(id);
      rec.queue.push(queue);
      rec.kind.push(kind);
      rec.group.push(group);
      rec.tree.push(tree);
      rec.fail.push(p.f);
      rec.k.push(p.k);
    };
    for (const queue of QUEUE_LIST) {
      const mine = units.filter((u) => u.queue === queue);
      const q = arbiter.queue<ChaosPayload>(queue);
      const items: EnqueueItem<ChaosPayload>[] = [];
      for (const u of mine) {
        if (u.type === 'plain') items.push({ payload: u.p, maxAttempts: MAX_ATTEMPTS });
        if (u.type === 'group') items.push({ payload: u.p, maxAttempts: MAX_ATTEMPTS, groupKey: u.group });
      }
      if (items.length > 0) {
        const jobs = await q.enqueueMany(items, { tx: client });
        for (const j of jobs) add(j.id, queue, j.groupKey ? 'group' : 'plain', j.groupKey, null, j.payload);
      }
      for (const u of mine) {
        if (u.type !== 'tree') continue;
        const node: TreeNode<ChaosPayload> = {
          payload: u.root,
          rollup: true,
          options: { maxAttempts: MAX_ATTEMPTS },
          children: u.children.map((c) => ({ payload: c, options: { maxAttempts: MAX_ATTEMPTS } })),
        };
        const t = await q.enqueueTree(node, { tx: client });
        add(t.job.id, queue, 'final', null, u.tree, u.root);
        for (const c of t.children) add(c.job.id, queue, 'child', null, u.tree, c.job.payload);
      }
    }
    await client.query(
      `INSERT INTO ${CHAOS}.enqueued (job_id, queue, kind, group_key, tree, fail, k, batch)
       SELECT unnest($1::bigint[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]),
              unnest($5::int[]), unnest($6::int[]), unnest($7::int[]), $8`,
      [rec.ids, rec.queue, rec.kind, rec.group, rec.tree, rec.fail, rec.k, batch],
    );
    await client.query(`INSERT INTO ${CHAOS}.batches (batch) VALUES ($1)`, [batch]);
    await client.query('COMMIT');
  } catch (err) {
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', swallow);
    client.release(broken ? true : undefined);
  }
}

/** Whether a tick whose commit failed was committed after all (the commit outcome was unknown). */
async function committed(pool: pg.Pool, batch: number): Promise<boolean> {
  const { rows } = await pool.query(`SELECT 1 FROM ${CHAOS}.batches WHERE batch = $1`, [batch]);
  return rows.length > 0;
}

/** Enqueues the plan at `rate` jobs/s (catching up after an outage). */
export async function runEnqueuer(
  url: string,
  arbiter: Arbiter,
  plan: Unit[],
  rate: number,
  log: (line: string) => void,
): Promise<EnqueueStats> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined);
  const stats: EnqueueStats = { jobs: 0, batches: 0, retries: 0, doneAt: 0 };
  const started = Date.now();
  let next = 0;
  let batch = 0;
  while (next < plan.length) {
    const target = ((Date.now() - started) / 1000) * rate;
    const units: Unit[] = [];
    let n = stats.jobs;
    while (next < plan.length && n < target) {
      const u = plan[next++]!;
      units.push(u);
      n += weight(u);
    }
    if (units.length > 0) {
      batch++;
      for (;;) {
        try {
          await insertTick(pool, arbiter, units, batch);
          break;
        } catch (err) {
          stats.retries++;
          if (stats.retries % 10 === 1) log(`enqueue batch ${batch} failed, retrying: ${String(err)}`);
          // Never insert again before knowing the failed commit did not happen (no duplicate jobs).
          let known: boolean | undefined;
          while (known === undefined) {
            await sleep(300);
            known = await committed(pool, batch).catch(() => undefined);
          }
          if (known) break;
        }
      }
      stats.jobs = n;
      stats.batches = batch;
    }
    await sleep(100);
  }
  stats.doneAt = Date.now();
  await pool.end();
  return stats;
}
