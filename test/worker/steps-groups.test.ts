import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// A grouped job that parks with a deadline (a sleep, a wait with a timeout) holds its group like a
// retry backoff; one that waits for an event with no timeout is suspended and, like any suspended job,
// lets the group's next jobs run (docs/workflows.md).
const t = useTestDb();
afterEach(stopAll);

type P = { n: number; wait: 'event' | 'timed' | 'sleep' | 'none' };

describe('parked jobs in a group', () => {
  it('a deadline holds the group; an open-ended wait does not', async () => {
    const q = await t.arbiter.createQueue<P>('grp_steps');
    const order: string[] = [];
    await startWorker(t.arbiter, {
      queues: {
        grp_steps: {
          handler: async (job: Job<P>, ctx) => {
            const { n, wait } = job.payload;
            if (wait === 'event') await ctx.waitFor(`grp:${job.groupKey}`);
            if (wait === 'timed') await ctx.waitFor(`grp:${job.groupKey}`, { timeoutMs: 600_000 });
            if (wait === 'sleep') await ctx.sleep(1_500);
            order.push(`${job.groupKey}:${n}`);
          },
        },
      },
    });
    for (const wait of ['event', 'timed', 'sleep'] as const) {
      const first = (await q.enqueue({ n: 1, wait }, { groupKey: wait }))!;
      await waitFor(() => q.jobs.waiting(first.id), `the first job of ${wait} parks`);
      await q.enqueue({ n: 2, wait: 'none' }, { groupKey: wait });
    }
    // The open-ended waiter lets its group go on; the others hold theirs.
    await waitFor(() => order.includes('event:2'), 'the job behind the open-ended wait ran');
    expect(order).not.toContain('timed:2');
    expect(order).not.toContain('event:1');
    const behind = (await q.jobs.list({ filter: { groupKey: 'timed' } })).items.find(
      (j) => j.payload.n === 2,
    )!;
    expect((await q.jobs.why(behind.id))!.reasons.map((r) => r.code)).toContain('group-retry');
    await t.arbiter.emit('grp:event');
    await t.arbiter.emit('grp:timed');
    await waitFor(async () => (await count(t.pool, t.schema, 'grp_steps')) === 0, 'all finished');
    const of = (g: string) => order.filter((o) => o.startsWith(`${g}:`));
    expect(of('event')).toEqual(['event:2', 'event:1']);
    expect(of('timed')).toEqual(['timed:1', 'timed:2']);
    expect(of('sleep')).toEqual(['sleep:1', 'sleep:2']);
  });
});
