import { describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { dlqHelpers } from '../support/dlq-helpers.js';

// Really races: 8 pooled connections, Promise.all, many rounds, overlapping parents in every batch.
const t = useTestDb({ poolSize: 12 });
const h = dlqHelpers(t);

type P = { p: number; c: number };

function shuffle<T>(list: T[]): T[] {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Splits `list` into `n` batches in which every element appears twice, in random order. */
function overlapping<T>(list: T[], n: number): T[][] {
  const batches: T[][] = Array.from({ length: n }, () => []);
  for (const pass of [0, 1]) shuffle(list).forEach((x, i) => batches[(i + pass) % n]!.push(x));
  return batches.map(shuffle);
}

describe('dead-letter races', () => {
  it('moveMany, ack and deleteMany over overlapping parents: no deadlock, every parent woken exactly once', async () => {
    const q = await t.arbiter.createQueue<P>('race_dlq');
    const wakes = await h.trackWakes(q);
    const PARENTS = 6;
    const CHILDREN = 4;
    const failures: unknown[] = [];
    for (let round = 0; round < 15; round++) {
      const trees = [];
      for (let p = 0; p < PARENTS; p++) {
        trees.push(
          await q.enqueueTree({
            payload: { p, c: -1 },
            rollup: true,
            children: Array.from({ length: CHILDREN }, (_, c) => ({
              payload: { p, c },
              // Half the children are grouped (one group each) so batches also lock group rows.
              options: c % 2 === 0 ? { groupKey: `r${round}p${p}c${c}` } : {},
            })),
          }),
        );
      }
      const held = await q.claim({ limit: 100, leaseMs: 60_000 });
      expect(held).toHaveLength(PARENTS * CHILDREN);
      // One child per parent is already dead, so deletes can race with the moves of its siblings.
      const first = held.filter((j) => j.payload.c === 0);
      expect(await q.dlq.moveMany(first.map((job) => ({ job, error: 'first' })))).toBe(PARENTS);
      const deadIds = (await h.dlqRows(q))
        .filter((r) => first.some((f) => f.id === r.job_id))
        .map((r) => r.id);
      const rest = held.filter((j) => j.payload.c !== 0);

      let moved = 0;
      let acked = 0;
      let deleted = 0;
      const movers = overlapping(rest, 3).map(async (batch) => {
        // Several smaller batches per worker, so transactions interleave more.
        for (let i = 0; i < batch.length; i += 4) {
          const n = await q.dlq.moveMany(
            batch.slice(i, i + 4).map((job: Job<P>) => ({ job, error: 'raced' })),
          );
          moved += n; // not `moved += await`: that would read `moved` before the await
        }
      });
      const acker = (async () => {
        for (const job of shuffle(rest)) {
          const n = await q.ack(job, { result: job.payload.c });
          acked += n;
        }
      })();
      const deleters = overlapping(deadIds, 4).map(async (batch) => {
        for (let i = 0; i < batch.length; i += 2) {
          const n = await q.dlq.deleteMany(batch.slice(i, i + 2));
          deleted += n;
        }
      });
      const settled = await Promise.allSettled([...movers, acker, ...deleters]);
      for (const s of settled) if (s.status === 'rejected') failures.push(s.reason);
      expect(failures).toEqual([]);

      expect(moved + acked).toBe(rest.length);
      expect(deleted).toBe(PARENTS);
      const w = await wakes();
      for (const tree of trees) {
        expect(w.get(tree.job.id)).toBe(1);
        expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(false);
      }
      // Every parent is claimable for its completion round; finish them so the next round starts clean.
      const parents = await q.claim({ limit: 100 });
      expect(parents.map((j) => j.id).sort()).toEqual(trees.map((tr) => tr.job.id).sort());
      for (const job of parents) expect(await q.ack(job)).toBe(1);
      expect(await h.jobCount(q)).toBe(0);
    }
    const deadlocks = failures.filter((e) => (e as { code?: string }).code === '40P01');
    expect(deadlocks).toEqual([]);
  });
});
