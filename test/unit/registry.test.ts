import { describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/executor.js';
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
    );
    await registry.beat();
    expect(contexts).toEqual(['registry:evicted']);
  });
});
