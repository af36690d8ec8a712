import { describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/executor.js';
import type { JobStore, StoreAction, StoreCompletion } from '../../src/store/job-store.js';
import type { Job } from '../../src/types.js';
import { Completer } from '../../src/worker/completer.js';
import { useTestDb } from '../support/db.js';
import { FakeClock } from './fake-clock.js';
import { count } from './helpers.js';

// The completer writes every kind of outcome in batches: one statement per kind of action per flush,
// whatever the mix. And a batched write is fenced like a single one: racing a late plain ack, a lease
// that ran out and a reclaim, every job ends with exactly one outcome, the one its write reported.
const t = useTestDb({ poolSize: 16 });

/** Sends everything through `db`, recording the name of each statement (and each transaction opened). */
function counting(db: Executor, names: string[]): Executor {
  const wrap = (inner: Executor): Executor => ({
    query: (text, values, name) => {
      names.push(name ?? text.trim().split(/\s+/, 1)[0]!);
      return inner.query(text, values, name);
    },
    transaction: (fn) => {
      names.push('transaction');
      return inner.transaction((tx) => fn(wrap(tx)));
    },
    pinned: inner.pinned,
  });
  return wrap(db);
}

const kinds = ['ack', 'keep', 'retry', 'snooze', 'dead'] as const;
type Kind = (typeof kinds)[number];

function action(kind: Kind, n: number): StoreAction {
  switch (kind) {
    case 'ack':
      return { type: 'ack', result: null };
    case 'keep':
      return { type: 'keep', result: JSON.stringify({ n }) };
    case 'retry':
      return { type: 'retry', delayMs: 60_000, error: `retry ${n}` };
    case 'snooze':
      return { type: 'snooze', delayMs: 60_000, note: null };
    case 'dead':
      return { type: 'dead', error: `dead ${n}` };
  }
}

async function claimAll(store: JobStore, n: number, leaseMs = 30_000): Promise<Job[]> {
  const { jobs } = await store.claim({ limit: n, leaseMs, workerId: 'w1' });
  expect(jobs).toHaveLength(n);
  return jobs;
}

describe('batched completions', () => {
  it('a flush writes each kind of outcome in one statement, however many jobs of each kind', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('cb_kinds');
    await q.enqueueMany(Array.from({ length: 60 }, (_, n) => ({ payload: { n } })));
    const names: string[] = [];
    const base = t.arbiter.store('cb_kinds');
    const jobs = await claimAll(base, 60);
    const store = base.using(counting(base.db, names));
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const completer = new Completer(
      5,
      (e) => errors.push(e),
      () => false,
      clock,
    );
    // Twelve jobs of each kind (ack, keep, retry, snooze, dead), interleaved. (A standalone job's ack
    // carries no result: the runner encodes one only for a parent or for keep.)
    const pending = jobs.map((job, i) => completer.complete(store, job, action(kinds[i % kinds.length]!, i)));
    expect(names).toEqual([]); // nothing leaves before the flush window ends
    await clock.advance(5);
    const results = await Promise.all(pending);
    expect(errors).toEqual([]);
    expect(results.every((r) => r === 'accepted')).toBe(true);
    const prefix = `arb:${t.schema}.cb_kinds:`;
    // Retries and dead letters also record their failed attempts: one more statement for each of those
    // kinds, never one per job.
    expect(names.map((n) => n.replace(prefix, '')).sort()).toEqual([
      'ack:bulk',
      'dlq:move:standalone-many',
      'retry:many',
      'worker:attempts',
      'worker:attempts',
      'worker:keep-many',
      'worker:snooze-many',
    ]);
    // Every fate as written.
    expect(await count(t.pool, t.schema, 'cb_kinds')).toBe(24); // retries and snoozes wait to run again
    expect(await count(t.pool, t.schema, 'cb_kinds', 'leased_until IS NOT NULL')).toBe(0);
    expect(await count(t.pool, t.schema, 'cb_kinds_history')).toBe(12);
    expect(await count(t.pool, t.schema, 'cb_kinds_dlq')).toBe(12);
  });

  it('racing a late plain ack, lease expiry and a reclaim, every job ends with exactly the outcome its write reported', async () => {
    await t.arbiter.createQueue<{ n: number }>('cb_race');
    const store = t.arbiter.store('cb_race');
    const q = t.arbiter.queue<{ n: number }>('cb_race');
    const batched = ['retry', 'snooze', 'keep', 'ack'] as const;
    const rivals = ['none', 'ackBulk', 'expiry'] as const;
    let checked = 0;
    for (let round = 0; round < 15; round++) {
      await q.enqueueMany(Array.from({ length: 40 }, (_, n) => ({ payload: { n } })));
      const jobs = await claimAll(store, 40);
      const plan = jobs.map((job, i) => ({
        job,
        kind: batched[(i + round) % batched.length]!,
        rival: rivals[Math.floor(Math.random() * rivals.length)]!,
      }));
      const items: StoreCompletion[] = plan.map((p, i) => ({
        fence: { id: p.job.id, attempts: p.job.attempts },
        inTree: false,
        action: action(p.kind, i),
      }));
      const late = plan.filter((p) => p.rival === 'ackBulk');
      const expiring = plan.filter((p) => p.rival === 'expiry').map((p) => p.job.id);
      // The owner's batch, a late duplicate ack of the same attempts, and the lease of others running
      // out and another worker claiming them, all at once on separate connections.
      const [written, acked, reclaimed] = await Promise.all([
        store.complete(items),
        store.ackBulk(late.map((p) => ({ id: p.job.id, attempts: p.job.attempts }))),
        (async () => {
          await t.pool.query(
            `UPDATE "${t.schema}".cb_race SET leased_until = now() - interval '1 second'
             WHERE id = ANY($1::bigint[]) AND leased_until IS NOT NULL`,
            [expiring],
          );
          const { jobs: again } = await store.claim({ limit: 40, leaseMs: 30_000, workerId: 'w2' });
          return again;
        })(),
      ]);
      const ackedIds = new Set(acked);
      const reclaimedIds = new Map(reclaimed.map((j) => [j.id, j]));
      const { rows } = await t.pool.query<{
        id: string;
        attempts: number;
        max_attempts: number;
        leased: boolean;
        later: boolean;
        last_error: string | null;
        worker_id: string | null;
      }>(
        `SELECT id::text, attempts, max_attempts, leased_until IS NOT NULL AS leased, run_at > now() AS later,
                last_error, worker_id
         FROM "${t.schema}".cb_race`,
      );
      const row = new Map(rows.map((r) => [r.id, r]));
      const { rows: kept } = await t.pool.query<{ id: string }>(
        `SELECT id::text FROM "${t.schema}".cb_race_history`,
      );
      const keptIds = new Set(kept.map((r) => r.id));
      for (const [i, p] of plan.entries()) {
        const id = p.job.id;
        const winners = [written[i], ackedIds.has(id), reclaimedIds.has(id)].filter(Boolean);
        expect(winners, `job ${id} (${p.kind} vs ${p.rival})`).toHaveLength(1);
        if (p.rival === 'none') expect(written[i], `job ${id}`).toBe(true);
        if (p.rival !== 'expiry') expect(reclaimedIds.has(id)).toBe(false);
        const r = row.get(id);
        if (reclaimedIds.has(id)) {
          // Taken over: its next attempt runs elsewhere; the owner's write was fenced off.
          expect(r).toMatchObject({ leased: true, attempts: p.job.attempts + 1, worker_id: 'w2' });
          expect(keptIds.has(id)).toBe(false);
        } else if (ackedIds.has(id)) {
          expect(r).toBeUndefined();
          expect(keptIds.has(id)).toBe(false);
        } else if (p.kind === 'ack') {
          expect(r).toBeUndefined();
          expect(keptIds.has(id)).toBe(false);
        } else if (p.kind === 'keep') {
          expect(r).toBeUndefined();
          expect(keptIds.has(id)).toBe(true);
        } else if (p.kind === 'retry') {
          expect(r).toMatchObject({
            leased: false,
            later: true,
            attempts: p.job.attempts,
            last_error: `retry ${i}`,
          });
        } else {
          // Snoozed: the attempt refunded (the budget is raised by one; attempts never go down).
          expect(r).toMatchObject({ leased: false, later: true, max_attempts: p.job.maxAttempts + 1 });
        }
        checked++;
      }
      // Clean up for the next round: everything left goes.
      await t.pool.query(`DELETE FROM "${t.schema}".cb_race`);
      await t.pool.query(`DELETE FROM "${t.schema}".cb_race_history`);
    }
    expect(checked).toBe(15 * 40);
  });
});
