// Gauges over many queues stay one bounded read per refresh: past 100 queues, the quiet ones (nothing
// claimable now or later, by the schema-wide summary) are not scanned each time.
import { describe, expect, it } from 'vitest';
import { METRICS_SCAN_MAX, readMetricsSnapshot } from '../../src/client/metrics-snapshot.js';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

describe('metrics over many queues', () => {
  it('reports all 150 queues: the active ones exact every refresh, the quiet ones from their turn', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25)
      await t.pool.query(`SELECT "${t.schema}"._create_queue(n) FROM unnest($1::text[]) n`, [
        names.slice(i, i + 25),
      ]);
    // Work in three queues; a suspended job and a dead letter in two otherwise quiet ones.
    await t.arbiter.queue('m010').enqueue({ a: 1 });
    await t.arbiter.queue('m010').enqueue({ a: 2 });
    await t.arbiter.queue('m020').enqueue({ b: 1 }, { delayMs: 3_600_000 });
    await t.arbiter.queue('m149').enqueue({ c: 1 });
    const s = (await t.arbiter.queue('m100').enqueue({ s: 1 }))!;
    expect(await t.arbiter.queue('m100').jobs.suspend(s.id)).toBe(1);
    await t.pool.query(
      `INSERT INTO "${t.schema}".m120_dlq (job_id, payload, priority, attempts, max_attempts, is_rollup, created_at)
       VALUES (1, '{}', 0, 1, 1, false, now())`,
    );
    await t.pool.query(`SELECT count("${t.schema}"._queue_settle(n)) FROM unnest($1::text[]) n`, [names]);

    const counted = new Map<string, { ready: number; scheduled: number; suspended: number; dead: number }>();
    for (let r = 0; r < 2; r++) {
      const snap = await readMetricsSnapshot(t.arbiter, names, 30_000);
      expect(snap.queues.map((q) => q.queue).sort()).toEqual(names);
      for (const q of snap.queues) counted.set(q.queue, q);
    }
    expect(counted.get('m010')!.ready).toBe(2);
    expect(counted.get('m020')!.scheduled).toBe(1);
    expect(counted.get('m149')!.ready).toBe(1);
    // Quiet queues were each read within two refreshes (147 quiet, 97 a refresh).
    expect(counted.get('m100')!.suspended).toBe(1);
    expect(counted.get('m120')!.dead).toBe(1);
    expect(counted.get('m050')).toMatchObject({ ready: 0, scheduled: 0, suspended: 0, dead: 0 });
    expect(METRICS_SCAN_MAX).toBe(100);
  });
});
