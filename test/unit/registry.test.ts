import { describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/executor.js';
import { ClockOffset } from '../../src/db/rows.js';
import { WorkerEventEmitter } from '../../src/worker/events.js';
import { WorkerRegistry } from '../../src/worker/registry.js';

/** An executor that answers every query with the given rows (no database). */
function fakeDb(rows: Record<string, unknown>[]): Executor {
  const db: Executor = {
    async query<R>() {
      return { rows: rows as R[], rowCount: rows.length };
    },
    transaction: (fn) => fn(db),
  };
  return db;
}

describe('worker registry heartbeat', () => {
  it('warns when the host clock is more than 60 s off the database clock', async () => {
    const events = new WorkerEventEmitter();
    const skews: number[] = [];
    events.on('worker:clock-skew', (e) => skews.push(e.skewMs));
    const behind = new WorkerRegistry(
      fakeDb([{ alive: true, now: new Date(Date.now() - 120_000) }]),
      's',
      'w1',
      ['q'],
      1_000,
      events,
      new ClockOffset(),
    );
    await behind.beat();
    expect(skews).toHaveLength(1);
    expect(skews[0]).toBeGreaterThan(119_000);
    const inSync = new WorkerRegistry(
      fakeDb([{ alive: true, now: new Date() }]),
      's',
      'w2',
      ['q'],
      1_000,
      events,
      new ClockOffset(),
    );
    await inSync.beat();
    expect(skews).toHaveLength(1);
  });

  it('registers again when another worker presumed it dead', async () => {
    const events = new WorkerEventEmitter();
    const contexts: string[] = [];
    events.on('error', (e) => contexts.push(e.context));
    const registry = new WorkerRegistry(
      fakeDb([{ alive: false, now: new Date() }]),
      's',
      'w',
      ['q'],
      1_000,
      events,
      new ClockOffset(),
    );
    await registry.beat();
    expect(contexts).toEqual(['registry:evicted']);
  });

  it("each worker keeps its own measurement of the host clock: one worker's skew is no other's", async () => {
    const events = new WorkerEventEmitter();
    const skewed = new ClockOffset();
    const other = new ClockOffset();
    const a = new WorkerRegistry(
      fakeDb([{ alive: true, now: new Date(Date.now() - 120_000) }]),
      's',
      'wa',
      ['q'],
      1_000,
      events,
      skewed,
    );
    const b = new WorkerRegistry(
      fakeDb([{ alive: true, now: new Date() }]),
      's',
      'wb',
      ['q'],
      1_000,
      events,
      other,
    );
    await a.beat();
    await b.beat();
    // The host is 2 minutes ahead of a's database: a reads database time 2 minutes back; b does not.
    expect(Date.now() - skewed.databaseNow(NaN)).toBeGreaterThan(119_000);
    expect(Math.abs(Date.now() - other.databaseNow(NaN))).toBeLessThan(1_000);
    // Never earlier than a time the database itself wrote.
    const written = Date.now();
    expect(skewed.databaseNow(written)).toBe(written);
  });
});
