import { describe, expect, it } from 'vitest';
import type { Job, Queue } from '../../src/index.js';
import { untilBlockedBy, useTestDb } from '../support/db.js';

// Every test here really races: separate pooled connections, Promise.all, many rounds, and assertions on
// every single job's fate.
const t = useTestDb({ poolSize: 45 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets other racers' callbacks run (one event-loop turn): interleaves without waiting for time. */
const turn = () => new Promise((r) => setImmediate(r));

/** Runs `claimers` loops until the queue table is empty (bounded by 60 s). */
async function drain<T>(
  q: Queue<T>,
  claimers: number,
  batch: number,
  onJob: (j: Job<T>) => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  await Promise.all(
    Array.from({ length: claimers }, async () => {
      while (Date.now() < deadline) {
        const jobs = await q.claim({ limit: batch, leaseMs: 30_000 });
        if (jobs.length === 0) {
          const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}"."${q.name}"`);
          if (rows[0].n === 0) return;
          await turn();
          continue;
        }
        for (const j of jobs) await onJob(j);
      }
    }),
  );
}

describe('concurrent claims', () => {
  it('ungrouped: 500 jobs, 40 claimers in batches of 3, no job claimed twice (3 repeats)', async () => {
    for (let rep = 0; rep < 3; rep++) {
      const q = await t.arbiter.createQueue<{ i: number }>(`r_ungrouped_${rep}`);
      await q.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ payload: { i } })));
      const seen = new Map<string, number>();
      await drain(q, 40, 3, async (j) => {
        seen.set(j.id, (seen.get(j.id) ?? 0) + 1);
        expect(await q.ack(j)).toBe(1);
      });
      expect(seen.size).toBe(500);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    }
  });

  it('grouped: 50 groups x 10, 40 claimers: no duplicates, one in flight per group, id order kept', async () => {
    const q = await t.arbiter.createQueue<{ g: number; n: number }>('r_grouped');
    const items = [];
    for (let n = 0; n < 10; n++)
      for (let g = 0; g < 50; g++) items.push({ payload: { g, n }, groupKey: `g${g}` });
    await q.enqueueMany(items);
    const inFlight = new Map<string, string>();
    const order = new Map<string, number[]>();
    let violations = 0;
    const seen = new Set<string>();
    await drain(q, 40, 2, async (j) => {
      if (seen.has(j.id)) violations++;
      seen.add(j.id);
      if (inFlight.has(j.groupKey!)) violations++;
      inFlight.set(j.groupKey!, j.id);
      order.set(j.groupKey!, [...(order.get(j.groupKey!) ?? []), j.payload.n]);
      for (let k = Math.floor(Math.random() * 4); k > 0; k--) await turn();
      inFlight.delete(j.groupKey!);
      expect(await q.ack(j)).toBe(1);
    });
    expect(violations).toBe(0);
    expect(seen.size).toBe(500);
    for (const ns of order.values()) expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('insert + claim race: 100 rounds of 20 inserts racing 10 claimers lose nothing', async () => {
    const q = await t.arbiter.createQueue<{ r: number; i: number }>('r_insert_claim');
    const inserted = new Set<string>();
    const claimed = new Set<string>();
    let dup = 0;
    for (let r = 0; r < 100; r++) {
      const inserts = Array.from({ length: 20 }, async (_, i) => {
        const j = await q.enqueue({ r, i });
        inserted.add(j!.id);
      });
      const claims = Array.from({ length: 10 }, async () => {
        for (let k = 0; k < 3; k++) {
          for (const j of await q.claim({ limit: 2 })) {
            if (claimed.has(j.id)) dup++;
            claimed.add(j.id);
            await q.ack(j);
          }
        }
      });
      await Promise.all([...inserts, ...claims]);
    }
    await drain(q, 4, 50, async (j) => {
      if (claimed.has(j.id)) dup++;
      claimed.add(j.id);
      await q.ack(j);
    });
    expect(dup).toBe(0);
    expect(inserted.size).toBe(2000);
    expect([...inserted].every((id) => claimed.has(id))).toBe(true);
    expect(claimed.size).toBe(2000);
  });

  it('inserts racing into one group are still claimed in id order', async () => {
    const q = await t.arbiter.createQueue<{ w: number; k: number }>('r_group_insert_race');
    const claimedIds: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let k = 0; k < 40; k++) await q.enqueue({ w, k }, { groupKey: 'hot' });
    });
    const claimers = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const [j] = await q.claim();
        if (!j) {
          await turn();
          continue;
        }
        claimedIds.push(j.id);
        expect(await q.ack(j)).toBe(1);
      }
    });
    await Promise.all(writers);
    stop = true;
    await Promise.all(claimers);
    await drain(q, 2, 1, async (j) => {
      claimedIds.push(j.id);
      await q.ack(j);
    });
    expect(claimedIds).toHaveLength(320);
    const asNumbers = claimedIds.map((id) => BigInt(id));
    const sorted = [...asNumbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(asNumbers).toEqual(sorted);
  });

  it('a grouped insert that waited for the one ahead of it is never due before it', async () => {
    // The interleaving the race above can hit by chance, made deterministic: b's transaction starts
    // (its now() is fixed) before a's, but a takes the group's insert lock first, so a gets the lower
    // id; a claimer whose now() falls between the two starts must not see b due while a is not.
    const q = await t.arbiter.createQueue<{ n: number }>('r_lock_wait_due');
    const [a, b, c] = [await t.connect(), await t.connect(), await t.connect()];
    await b.query('BEGIN');
    await b.query('SELECT now()');
    await c.query('BEGIN');
    await c.query('SELECT now()');
    await a.query('BEGIN');
    const first = await q.enqueue({ n: 1 }, { groupKey: 'hot', tx: a });
    const waiting = q.enqueue({ n: 2 }, { groupKey: 'hot', tx: b });
    await untilBlockedBy(t.pool, a);
    await a.query('COMMIT');
    const second = await waiting;
    await b.query('COMMIT');
    expect(BigInt(second!.id)).toBeGreaterThan(BigInt(first!.id));
    const { rows } = await c.query<{ id: string }>(
      `SELECT id::text FROM "${t.schema}"."${q.name}" WHERE run_at <= now() ORDER BY id`,
    );
    await c.query('ROLLBACK');
    // Whatever c finds due is a prefix of the group's id order.
    expect(rows.map((r) => r.id)).toEqual([first!.id, second!.id].slice(0, rows.length));
    const claimed: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [j] = await q.claim();
      claimed.push(j!.id);
      await q.ack(j!);
    }
    expect(claimed).toEqual([first!.id, second!.id]);
  });

  it('aggressive leases: 50 jobs, 20 workers, 100 ms lease, 50 ms work: each accepted exactly once', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('r_aggressive');
    await q.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ payload: { i } })));
    const accepted = new Map<string, number>();
    const left = async () =>
      (await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".r_aggressive`)).rows[0].n as number;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (;;) {
          const [j] = await q.claim({ leaseMs: 100 });
          if (!j) {
            // Done once every job is acked; until then a lease held elsewhere may still run out.
            if ((await left()) === 0) return;
            await turn();
            continue;
          }
          await sleep(50);
          if ((await q.ack(j)) === 1) accepted.set(j.id, (accepted.get(j.id) ?? 0) + 1);
        }
      }),
    );
    expect(accepted.size).toBe(50);
    expect([...accepted.values()].every((n) => n === 1)).toBe(true);
  });

  it('reclaim pressure: 5 racers on one job with a 100 ms lease accept exactly one ack (40 iterations)', async () => {
    const q = await t.arbiter.createQueue('r_reclaim');
    for (let it = 0; it < 40; it++) {
      await q.enqueue({ it });
      let accepted = 0;
      await Promise.all(
        Array.from({ length: 5 }, async (_, k) => {
          await sleep(k * 30);
          const [j] = await q.claim({ leaseMs: 100 });
          if (!j) return;
          await sleep(50);
          // Not `accepted += await …`: that reads `accepted` before the await and can undo a racer's count.
          const n = await q.ack(j);
          accepted += n;
        }),
      );
      // Nobody may be left holding it: finish whatever remains so the next iteration starts clean.
      for (;;) {
        const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".r_reclaim`);
        if (rows[0].n === 0) break;
        // Whoever holds it has stopped: it becomes claimable once its lease runs out (database time).
        const [j] = await q.claim({ leaseMs: 100 });
        if (j) {
          const n = await q.ack(j);
          accepted += n;
        } else await turn();
      }
      expect(accepted).toBe(1);
    }
  }, 180_000);
});

describe('concurrent completion and dedup', () => {
  it('concurrent sibling acks wake the parent exactly once (30 rounds x 10 siblings)', async () => {
    const q = await t.arbiter.createQueue<{ k: number }>('r_siblings');
    await t.pool.query(`CREATE TABLE "${t.schema}".wakes (parent_id bigint)`);
    await t.pool.query(`CREATE FUNCTION "${t.schema}".count_wake() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${t.schema}".wakes VALUES (NEW.id); RETURN NULL; END $$`);
    await t.pool.query(`CREATE TRIGGER count_wake AFTER UPDATE ON "${t.schema}".r_siblings FOR EACH ROW
      WHEN (OLD.suspended AND NOT NEW.suspended) EXECUTE FUNCTION "${t.schema}".count_wake()`);
    for (let round = 0; round < 30; round++) {
      const tree = await q.enqueueTree({
        payload: { k: -1 },
        children: Array.from({ length: 10 }, (_, k) => ({ payload: { k } })),
      });
      const kids = await q.claim({ limit: 10 });
      expect(kids).toHaveLength(10);
      const results = await Promise.all(kids.map((j) => q.ack(j, { result: { k: j.payload.k } })));
      expect(results).toEqual(Array(10).fill(1));
      const { rows } = await t.pool.query(
        `SELECT count(*)::int AS n FROM "${t.schema}".wakes WHERE parent_id = $1`,
        [tree.job.id],
      );
      expect(rows[0].n).toBe(1);
      const [parent] = await q.claim();
      expect(parent!.id).toBe(tree.job.id);
      expect(await q.ack(parent!)).toBe(1);
    }
  });

  it('concurrent inserts with one dedup key leave exactly one job (ignore and replace, 30 rounds)', async () => {
    const q = await t.arbiter.createQueue<{ w: number }>('r_dedup');
    for (let round = 0; round < 30; round++) {
      const mode = round % 2 ? 'replace' : 'ignore';
      const key = `k${round}`;
      const out = await Promise.all(
        Array.from({ length: 12 }, (_, w) => q.enqueue({ w }, { dedup: { key, mode } })),
      );
      const { rows } = await t.pool.query(
        `SELECT count(*)::int AS n FROM "${t.schema}".r_dedup WHERE dedup_key = $1`,
        [key],
      );
      expect(rows[0].n).toBe(1);
      if (mode === 'ignore') expect(out.filter((j) => j !== null)).toHaveLength(1);
      else expect(out.every((j) => j !== null)).toBe(true);
    }
  });

  it('concurrent idempotent enqueues return the same job', async () => {
    const q = await t.arbiter.createQueue('r_idem');
    const out = await Promise.all(
      Array.from({ length: 16 }, (_, w) => q.enqueue({ w }, { idempotencyKey: 'same' })),
    );
    expect(new Set(out.map((j) => j!.id)).size).toBe(1);
  });
});
