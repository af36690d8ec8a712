import { describe, expect, it } from 'vitest';
import type { Queue } from '../../src/index.js';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

async function deadLetters(
  q: Queue,
  n: number,
  payload = (i: number): unknown => ({ i }),
): Promise<string[]> {
  await q.enqueueMany(Array.from({ length: n }, (_, i) => ({ payload: payload(i) })));
  const jobs = await q.claim({ limit: n });
  await q.dlq.moveMany(jobs.map((job) => ({ job, error: 'boom' })));
  const page = await q.dlq.list({ limit: 1000 });
  return page.items.map((d) => d.id).reverse(); // oldest first
}

describe('dlq.retryMany', () => {
  it('retries many in one call: new jobs in the order given, unknown ids reported as missing', async () => {
    const q = await t.arbiter.createQueue('rm_basic');
    const ids = await deadLetters(q, 5);
    const order = [ids[3]!, ids[0]!, '987654321', ids[3]!, ids[4]!];
    const res = await q.dlq.retryMany(order);
    expect(res.retried.map((r) => r.id)).toEqual([ids[3], ids[0], ids[4]]);
    expect(res.missing).toEqual(['987654321']);
    for (const r of res.retried) {
      expect(r.job).toMatchObject({ status: 'ready', attempts: 0, lastError: null });
      expect((await q.jobs.get(r.job.id))?.id).toBe(r.job.id);
    }
    expect((await q.dlq.list()).items.map((d) => d.id).sort()).toEqual([ids[1], ids[2]].sort());
    expect(await q.dlq.retryMany([])).toEqual({ retried: [], missing: [] });
  });

  it('is all or nothing: a failure on one dead letter leaves every one of them in the table', async () => {
    const q = await t.arbiter.createQueue('rm_atomic');
    const ids = await deadLetters(q, 3, (i) => (i === 2 ? { poison: true } : { i }));
    // A real PostgreSQL failure on the third insert (a constraint the dead letter cannot satisfy).
    await t.pool.query(
      `ALTER TABLE "${t.schema}".rm_atomic ADD CONSTRAINT no_poison CHECK (NOT payload ? 'poison') NOT VALID`,
    );
    await expect(q.dlq.retryMany(ids)).rejects.toThrow(/no_poison/);
    expect(await q.dlq.count()).toBe(3);
    expect(await q.jobs.count()).toBe(0);
    // Bad input is refused before any I/O.
    await expect(q.dlq.retryMany([ids[0]!, '1; DROP TABLE x'])).rejects.toMatchObject({ field: 'ids[1]' });
    await expect(q.dlq.retryMany(Array.from({ length: 10_001 }, () => '1'))).rejects.toMatchObject({
      code: 'BATCH_TOO_LARGE',
    });
    expect(await q.dlq.count()).toBe(3);
  });

  it('retries a dead parent before its dead child given in the same call, so the child attaches to it', async () => {
    const q = await t.arbiter.createQueue('rm_tree');
    const tree = await q.enqueueTree({ payload: { n: 'p' }, children: [{ payload: { n: 'c' } }] });
    const [kid] = await q.claim();
    expect(kid!.id).toBe(tree.children[0]!.job.id);
    await q.dlq.move(kid!, 'child failed');
    const [parent] = await q.claim(); // woken: its only child left the queue
    expect(parent!.id).toBe(tree.job.id);
    await q.dlq.move(parent!, 'parent failed');
    const dead = (await q.dlq.list()).items;
    const deadKid = dead.find((d) => d.jobId === kid!.id)!;
    const deadParent = dead.find((d) => d.jobId === tree.job.id)!;

    const res = await q.dlq.retryMany([deadKid.id, deadParent.id]); // child listed first
    const newParent = res.retried.find((r) => r.id === deadParent.id)!.job;
    const newKid = res.retried.find((r) => r.id === deadKid.id)!.job;
    expect(newKid.parentId).toBe(newParent.id);
    expect(await q.jobs.count({ parentId: newParent.id })).toBe(1);
    expect(await q.dlq.count()).toBe(0);
  });

  it('gives an idempotency key back once when two dead letters hold it', async () => {
    const q = await t.arbiter.createQueue('rm_idem');
    for (let n = 0; n < 2; n++) {
      await q.enqueue({ n }, { idempotencyKey: 'k' });
      const [job] = await q.claim();
      await q.dlq.move(job!, 'boom');
    }
    const ids = (await q.dlq.list()).items.map((d) => d.id).reverse();
    const res = await q.dlq.retryMany(ids);
    expect(res.retried.map((r) => r.job.idempotencyKey)).toEqual(['k', null]);
  });

  it('concurrent bulk retries over overlapping sets neither deadlock nor retry anything twice', async () => {
    const q = await t.arbiter.createQueue('rm_race');
    const ids = await deadLetters(q, 300);
    const a = ids.slice(0, 200);
    const b = ids.slice(100).reverse();
    const [ra, rb] = await Promise.all([q.dlq.retryMany(a), q.dlq.retryMany(b)]);
    const retried = [...ra.retried, ...rb.retried].map((r) => r.id);
    expect(new Set(retried).size).toBe(300);
    expect(retried).toHaveLength(300);
    expect(ra.missing.length + rb.missing.length).toBe(100);
    expect(await q.jobs.count()).toBe(300);
    expect(await q.dlq.count()).toBe(0);
  });
});
