import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, type Job, type Queue } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';

// No claim waits for a lock held by a producer, an operator action or another claimer, and neither do the
// writes a worker makes for a running job (ack, lease extension). Each case holds a transaction open on
// one connection and acts through `strict`: an Arbiter on the same schema whose sessions give up on any
// lock wait (lock_timeout), so a statement that would wait fails with 55P03 instead of hanging.
const t = useTestDb({ poolSize: 20 });
let strictPool: pg.Pool;
let strict: Arbiter;

beforeAll(() => {
  strictPool = new pg.Pool({ connectionString: databaseUrl(), max: 6, options: '-c lock_timeout=500' });
  strictPool.on('error', () => undefined);
  strict = new Arbiter({ pool: strictPool, schema: t.schema });
});
afterAll(async () => {
  await strictPool.end();
});

type P = { n: number };
const ids = (jobs: readonly Job<unknown>[]) => jobs.map((j) => j.id).sort();

/** Runs `fn` with a connection holding a transaction open for its whole duration, then rolls it back. */
async function holding(open: (tx: pg.Client) => Promise<void>, fn: () => Promise<void>): Promise<void> {
  const tx = await t.connect();
  await tx.query('BEGIN');
  try {
    await open(tx);
    await fn();
  } finally {
    await tx.query('ROLLBACK');
  }
}

let seq = 0;
async function freshQueue(): Promise<Queue<P>> {
  return t.arbiter.createQueue<P>(`lk_${++seq}`);
}

describe('an open producer transaction', () => {
  // What the producer's own transaction does to group a; each leaves a's committed head claimable or not.
  const producers: {
    name: string;
    setup?: (q: Queue<P>) => Promise<void>;
    open: (q: Queue<P>, tx: pg.Client) => Promise<unknown>;
    aClaimable: boolean;
  }[] = [
    {
      name: 'enqueues into a group with ready work',
      open: (q, tx) => q.enqueue({ n: 9 }, { groupKey: 'a', tx }),
      aClaimable: true,
    },
    {
      name: 'enqueues a more urgent job into a group with ready work',
      open: (q, tx) => q.enqueue({ n: 9 }, { groupKey: 'a', priority: -5, tx }),
      aClaimable: false,
    },
    {
      name: 'enqueues many jobs into the group, and into new groups',
      open: (q, tx) =>
        q.enqueueMany(
          [
            { payload: { n: 9 }, groupKey: 'a' },
            { payload: { n: 10 }, groupKey: 'new-1' },
            { payload: { n: 11 }, groupKey: 'new-2' },
          ],
          { tx },
        ),
      aClaimable: true,
    },
    {
      name: 'enqueues a tree whose nodes join the group',
      open: (q, tx) =>
        q.enqueueTree(
          { payload: { n: 9 }, options: { groupKey: 'a' }, children: [{ payload: { n: 10 } }] },
          { tx },
        ),
      aClaimable: true,
    },
  ];

  for (const p of producers) {
    it(`${p.name}: a claim takes every other group and the ungrouped jobs at once`, async () => {
      const q = await freshQueue();
      const a = (await q.enqueue({ n: 1 }, { groupKey: 'a' }))!;
      const b = (await q.enqueue({ n: 2 }, { groupKey: 'b' }))!;
      const u = (await q.enqueue({ n: 3 }))!;
      await holding(
        (tx) => p.open(q, tx).then(() => undefined),
        async () => {
          const got = await strict.queue<P>(q.name).claim({ limit: 10 });
          expect(ids(got)).toEqual(ids(p.aClaimable ? [a, b, u] : [b, u]));
        },
      );
    });
  }

  it('that had to write its group row (the group had nothing ready) holds off only that group', async () => {
    const q = await freshQueue();
    await q.enqueue({ n: 1 }, { groupKey: 'a', delayMs: 3_600_000 });
    const b = (await q.enqueue({ n: 2 }, { groupKey: 'b' }))!;
    const u = (await q.enqueue({ n: 3 }))!;
    await holding(
      (tx) => q.enqueue({ n: 4 }, { groupKey: 'a', tx }).then(() => undefined),
      async () => {
        expect(ids(await strict.queue<P>(q.name).claim({ limit: 10 }))).toEqual(ids([b, u]));
      },
    );
  });

  it('replacing a group head (dedup replace): the claim takes the next group instead of coming back short', async () => {
    const q = await freshQueue();
    await q.enqueue({ n: 1 }, { groupKey: 'a', dedup: { key: 'h', mode: 'replace' } });
    const b = (await q.enqueue({ n: 2 }, { groupKey: 'b' }))!;
    await holding(
      (tx) =>
        q
          .enqueue({ n: 3 }, { groupKey: 'a', tx, dedup: { key: 'h', mode: 'replace' } })
          .then(() => undefined),
      async () => {
        for (let i = 0; i < 3; i++) {
          const got = await strict.queue<P>(q.name).claim({ limit: 1, leaseMs: 60_000 });
          expect(ids(got)).toEqual(i === 0 ? [b.id] : []);
        }
      },
    );
  });

  it("never holds up the acks and lease extensions of the group's running job", async () => {
    const q = await freshQueue();
    await q.enqueue({ n: 1 }, { groupKey: 'a' });
    await q.enqueue({ n: 2 }, { groupKey: 'a' });
    const [running] = await q.claim({ limit: 1 });
    const sq = strict.queue<P>(q.name);
    await holding(
      (tx) => q.enqueue({ n: 3 }, { groupKey: 'a', tx }).then(() => undefined),
      async () => {
        expect((await sq.extendLeases([running!], 60_000)).map((r) => r.status)).toEqual(['updated']);
        expect(await sq.extendLease(running!, 60_000)).toBe(1);
        expect(await sq.ackBulk([running!])).toEqual([running!.id]);
      },
    );
  });

  it('adding a child to a running job holds up neither its lease extension nor other claims', async () => {
    const q = await freshQueue();
    await q.enqueue({ n: 1 });
    const [parent] = await q.claim({ limit: 1 });
    const other = (await q.enqueue({ n: 2 }))!;
    await holding(
      (tx) => q.enqueue({ n: 3 }, { parentId: parent!.id, tx }).then(() => undefined),
      async () => {
        const sq = strict.queue<P>(q.name);
        expect((await sq.extendLeases([parent!], 60_000)).map((r) => r.status)).toEqual(['updated']);
        expect(ids(await sq.claim({ limit: 10 }))).toEqual([other.id]);
      },
    );
  });
});

describe('an open operator or claimer transaction', () => {
  it('an operator action on a group holds off only that group', async () => {
    const q = await freshQueue();
    const a1 = (await q.enqueue({ n: 1 }, { groupKey: 'a' }))!;
    await q.enqueue({ n: 2 }, { groupKey: 'a' });
    const b = (await q.enqueue({ n: 3 }, { groupKey: 'b' }))!;
    const u = (await q.enqueue({ n: 4 }))!;
    await holding(
      async (tx) => {
        expect(await q.using(tx).jobs.cancel(a1.id)).toBe(1);
      },
      async () => {
        expect(ids(await strict.queue<P>(q.name).claim({ limit: 10 }))).toEqual(ids([b, u]));
      },
    );
  });

  it('a claim in an open transaction holds off what it claimed and at most its limit of other candidates', async () => {
    // A claim locks up to `limit` groups and `limit` ungrouped jobs before it picks the best `limit` of
    // them: inside a transaction, the ones it did not pick stay locked until that transaction ends.
    const q = await freshQueue();
    const a = (await q.enqueue({ n: 1 }, { groupKey: 'a', priority: -1 }))!;
    const b = (await q.enqueue({ n: 2 }, { groupKey: 'b' }))!;
    await q.enqueue({ n: 3 });
    const u2 = (await q.enqueue({ n: 4 }))!;
    await holding(
      async (tx) => {
        expect(ids(await q.using(tx).claim({ limit: 1 }))).toEqual([a.id]);
      },
      async () => {
        expect(ids(await strict.queue<P>(q.name).claim({ limit: 10 }))).toEqual(ids([b, u2]));
      },
    );
  });

  it('a group refresh neither waits for claims and producers nor holds claims off', async () => {
    const q = await freshQueue();
    for (let i = 0; i < 5; i++) await q.enqueue({ n: i }, { groupKey: `g${i}` });
    const u = (await q.enqueue({ n: 9 }))!;
    const [held] = await q.claim({ limit: 1 });
    await holding(
      async (tx) => {
        await q.enqueue({ n: 10 }, { groupKey: 'g4', tx });
      },
      async () => {
        // The refresh runs while a producer and a running job hold group rows, and leaves them be.
        expect(await strict.queue<P>(q.name).jobs.refreshGroups()).toBe(true);
      },
    );
    await holding(
      async (tx) => {
        // A refresh inside an open transaction keeps every group row it settled locked until the end:
        // claims pass those groups by and still take the ungrouped job.
        expect(await q.using(tx).jobs.refreshGroups()).toBe(true);
      },
      async () => {
        expect(ids(await strict.queue<P>(q.name).claim({ limit: 10 }))).toEqual([u.id]);
      },
    );
    expect(await q.ack(held!)).toBe(1);
  });
});

describe('racing claimers', () => {
  it('each claim fills its limit while unlocked work remains (3 claimers over 30 groups, 20 rounds)', async () => {
    const q = await freshQueue();
    for (let round = 0; round < 20; round++) {
      await q.enqueueMany(
        Array.from({ length: 30 }, (_, i) => ({ payload: { n: i }, groupKey: `r${round}-${i}` })),
      );
      const results = await Promise.all([0, 1, 2].map(() => q.claim({ limit: 10, leaseMs: 60_000 })));
      expect(
        results.map((r) => r.length),
        `round ${round}`,
      ).toEqual([10, 10, 10]);
      const all = results.flat();
      expect(new Set(all.map((j) => j.id)).size).toBe(30);
      expect((await q.ackBulk(all)).length).toBe(30);
    }
  });

  it('batched claims fill theirs too (3 claimers, 15 groups of 4, batches of 2 from up to 5 groups)', async () => {
    const q = await freshQueue();
    for (let round = 0; round < 10; round++) {
      const items = [];
      for (let n = 0; n < 4; n++)
        for (let g = 0; g < 15; g++) items.push({ payload: { n }, groupKey: `r${round}-${g}` });
      await q.enqueueMany(items);
      const results = await Promise.all(
        [0, 1, 2].map(() => q.claimBatched({ batchSize: 2, maxBatches: 5, leaseMs: 60_000 })),
      );
      expect(results.map((r) => r.length)).toEqual([5, 5, 5]);
      for (const batch of results.flat()) {
        expect(batch.map((j) => j.payload.n)).toEqual([0, 1]);
        expect((await q.ackBulk(batch)).length).toBe(2);
      }
      const rest = await q.claimBatched({ batchSize: 2, maxBatches: 100, leaseMs: 60_000 });
      expect(rest.length).toBe(15);
      for (const batch of rest) {
        expect(batch.map((j) => j.payload.n)).toEqual([2, 3]);
        await q.ackBulk(batch);
      }
    }
  });
});

describe('concurrent batches', () => {
  it('mixing dedup modes never deadlock (8 batches over the same 50 groups, 10 rounds)', async () => {
    const q = await freshQueue();
    for (let round = 0; round < 10; round++) {
      // Each batch: the 50 groups shuffled, and every fifth row of that order a replace (its key shared
      // by all batches), so each batch's replace rows fall in different groups.
      const batches = Array.from({ length: 8 }, (_, b) => {
        const groups = Array.from({ length: 50 }, (_, g) => g);
        for (let i = groups.length - 1; i > 0; i--) {
          const k = Math.floor(Math.random() * (i + 1));
          [groups[i], groups[k]] = [groups[k]!, groups[i]!];
        }
        return groups.map((g, i) => ({
          payload: { n: b * 100 + g },
          groupKey: `grp${g}`,
          ...(i % 5 === 0 ? { dedup: { key: `r${round}-k${i}`, mode: 'replace' as const } } : {}),
        }));
      });
      const settled = await Promise.allSettled(batches.map((rows) => q.enqueueMany(rows)));
      const failed = settled.filter((s) => s.status === 'rejected');
      expect(
        failed.map((f) => String((f as PromiseRejectedResult).reason)),
        `round ${round}`,
      ).toEqual([]);
      // Every plain row is in, and each replace key holds exactly one job.
      const { rows } = await t.pool.query<{ plain: number; keyed: number; keys: number }>(
        `SELECT count(*) FILTER (WHERE dedup_key IS NULL)::int AS plain,
                count(*) FILTER (WHERE dedup_key LIKE $1)::int AS keyed,
                count(DISTINCT dedup_key) FILTER (WHERE dedup_key LIKE $1)::int AS keys
         FROM "${t.schema}"."${q.name}"`,
        [`r${round}-%`],
      );
      expect(rows[0]).toEqual({ plain: 8 * 40 * (round + 1), keyed: 10, keys: 10 });
    }
  });

  it('keyed batches whose keys come in opposite orders never deadlock (8 at once, 20 rounds)', async () => {
    // Ungrouped rows keep the caller's order, so without taking their keys up front two batches could
    // each insert one key and wait for the other's.
    const q = await freshQueue();
    for (let round = 0; round < 20; round++) {
      const keys = Array.from({ length: 20 }, (_, i) => `r${round}-${i}`);
      const batches = Array.from({ length: 8 }, (_, b) =>
        (b % 2 === 0 ? keys : [...keys].reverse()).map((key, i) => ({
          payload: { n: b * 100 + i },
          ...(b % 4 < 2 ? { dedup: { key } } : { idempotencyKey: key }),
        })),
      );
      const settled = await Promise.allSettled(batches.map((rows) => q.enqueueMany(rows)));
      expect(
        settled
          .filter((x) => x.status === 'rejected')
          .map((x) => String((x as PromiseRejectedResult).reason)),
        `round ${round}`,
      ).toEqual([]);
    }
  });

  it('trees whose levels cross groups in opposite orders never deadlock (8 at once, 20 rounds)', async () => {
    const q = await freshQueue();
    for (let round = 0; round < 20; round++) {
      const trees = Array.from({ length: 8 }, (_, i) => {
        const [top, bottom] = i % 2 === 0 ? ['ga', 'gb'] : ['gb', 'ga'];
        return q.enqueueTree({
          payload: { n: i },
          options: { groupKey: top },
          children: [{ payload: { n: i }, options: { groupKey: bottom } }, { payload: { n: i } }],
        });
      });
      const settled = await Promise.allSettled(trees);
      expect(
        settled
          .filter((x) => x.status === 'rejected')
          .map((x) => String((x as PromiseRejectedResult).reason)),
      ).toEqual([]);
    }
  });

  it('multi-group batches racing claims and acks never deadlock (30 rounds)', async () => {
    const q = await freshQueue();
    let acked = 0;
    for (let round = 0; round < 30; round++) {
      const enqueue = async (w: number) => {
        const rows = Array.from({ length: 20 }, (_, g) => ({
          payload: { n: g },
          groupKey: `k${(g * 7 + w) % 20}`,
        }));
        await q.enqueueMany(rows);
      };
      const work = async () => {
        for (let i = 0; i < 5; i++) {
          const jobs = await q.claim({ limit: 10 });
          if (jobs.length === 0) continue;
          const n = await q.ackMany(jobs);
          acked += n;
        }
      };
      await Promise.all([enqueue(0), enqueue(1), enqueue(2), work(), work()]);
    }
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}"."${q.name}"`,
    );
    expect(acked).toBeGreaterThan(0);
    expect(rows[0]!.n + acked).toBe(30 * 3 * 20);
  });
});
