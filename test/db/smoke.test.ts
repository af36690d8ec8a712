import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

describe('smoke', () => {
  it('enqueues, claims by group, acks', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('smoke');
    await t.arbiter.createQueue('smoke');
    const a = await q.enqueue({ n: 1 }, { groupKey: 'g' });
    const b = await q.enqueue({ n: 2 }, { groupKey: 'g' });
    const c = await q.enqueue({ n: 3 });
    expect(a && b && c).toBeTruthy();
    const claimed = await q.claim({ limit: 10 });
    expect(claimed.map((j) => j.payload.n).sort()).toEqual([1, 3]);
    const again = await q.claim({ limit: 10 });
    expect(again).toEqual([]);
    const ja = claimed.find((j) => j.payload.n === 1)!;
    expect(await q.ack(ja)).toBe(1);
    expect(await q.ack(ja)).toBe(0);
    const next = await q.claim({ limit: 10 });
    expect(next.map((j) => j.payload.n)).toEqual([2]);
  });
});
