import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { createWorker, type QueueConfig } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, sleep, startWorker, stopAll, waitFor } from './helpers.js';

// One worker serving several queues shares its slots between them: a queue with ready work gets its
// share within about one handler run, however deep another queue's backlog or prefetch buffer; weights
// set the shares; a queue's priority puts it first without starving the others. Progress is measured in
// handler starts (a logical clock), never in wall time.
const t = useTestDb();
afterEach(stopAll);

async function backlog(queue: string, n: number): Promise<void> {
  const q = await t.arbiter.createQueue(queue);
  for (let i = 0; i < n; i += 1_000)
    await q.enqueueManyCount(Array.from({ length: Math.min(1_000, n - i) }, () => ({ payload: {} })));
}

/** Two backlogged queues of identical handlers; counts each queue's starts over a window of `window` starts. */
async function split(
  a: { name: string } & Omit<QueueConfig, 'handler'>,
  b: { name: string } & Omit<QueueConfig, 'handler'>,
  window: number,
): Promise<{ a: number; b: number }> {
  const warmUp = 300;
  const depth = warmUp + window + 1_000;
  await backlog(a.name, depth);
  await backlog(b.name, depth);
  const starts = { [a.name]: 0, [b.name]: 0 };
  const handlerFor = (name: string) => async () => {
    starts[name]!++;
    await sleep(2);
  };
  const { name: an, ...aConfig } = a;
  const { name: bn, ...bConfig } = b;
  await startWorker(t.arbiter, {
    concurrency: 8,
    queues: {
      [an]: { ...aConfig, handler: handlerFor(an) },
      [bn]: { ...bConfig, handler: handlerFor(bn) },
    },
  });
  const total = () => starts[an]! + starts[bn]!;
  // Past the start (the first claim may fill every slot from one queue), then a window of `window` starts
  // while both queues still have a backlog.
  await waitFor(() => total() >= warmUp, 'warm-up', 60_000, 5);
  const from = { a: starts[an]!, b: starts[bn]! };
  await waitFor(() => total() >= warmUp + window, 'the measured window', 120_000, 5);
  const measured = { a: starts[an]! - from.a, b: starts[bn]! - from.b };
  await stopAll();
  expect(await count(t.pool, t.schema, an)).toBeGreaterThan(0);
  expect(await count(t.pool, t.schema, bn)).toBeGreaterThan(0);
  return measured;
}

describe('slots shared across queues', () => {
  it("a busy queue's backlog and prefetch buffer do not hold back another queue's job", async () => {
    const concurrency = 4;
    await backlog('cq_bulk', 500);
    const urgent = await t.arbiter.createQueue('cq_urgent');
    let bulkStarts = 0;
    let bulkStartsAtUrgent: number | undefined;
    const worker = await startWorker(t.arbiter, {
      concurrency,
      queues: {
        cq_bulk: {
          handler: async () => {
            bulkStarts++;
            await sleep(150);
          },
        },
        cq_urgent: {
          handler: () => {
            bulkStartsAtUrgent = bulkStarts;
          },
        },
      },
    });
    // Every slot busy with bulk jobs and more of them claimed ahead, waiting in memory.
    await waitFor(
      () => worker.activeCount === concurrency && worker.prefetchedCount >= 4 && bulkStarts >= 12,
      'bulk running with a prefetch buffer',
      30_000,
      5,
    );
    const bulkStartsAtEnqueue = bulkStarts;
    await urgent.enqueue({});
    await waitFor(() => bulkStartsAtUrgent !== undefined, 'the urgent job started', 120_000, 5);
    // The urgent job started within a few bulk handler runs per slot (about one run, plus the wake-up and
    // the claim), not after the backlog: today's 500 bulk jobs are 31 such rounds.
    expect(bulkStartsAtUrgent! - bulkStartsAtEnqueue).toBeLessThanOrEqual(4 * concurrency);
  });

  it('weights 3:1 split the slots 3:1 between two backlogged queues (±10%)', async () => {
    const { a, b } = await split({ name: 'w_three', weight: 3 }, { name: 'w_one' }, 4_000);
    expect(a / b).toBeGreaterThanOrEqual(2.7);
    expect(a / b).toBeLessThanOrEqual(3.3);
  });

  it('equal weights by default: two backlogged queues get the same share (±10%)', async () => {
    const { a, b } = await split({ name: 'e_one' }, { name: 'e_two' }, 3_000);
    expect(a / b).toBeGreaterThanOrEqual(0.9);
    expect(a / b).toBeLessThanOrEqual(1.1);
  });

  it('a queue of lower priority value goes first, and the other still gets a tenth of the slots', async () => {
    const { a, b } = await split({ name: 'p_first', priority: -1 }, { name: 'p_later' }, 3_000);
    const share = b / (a + b);
    expect(share).toBeGreaterThanOrEqual(0.07);
    expect(share).toBeLessThanOrEqual(0.13);
  });

  it('rejects a weight or a priority out of range with a ValidationError', () => {
    const make = (config: Omit<QueueConfig, 'handler'>) => () =>
      createWorker({ arbiter: t.arbiter, queues: { q: { ...config, handler: () => undefined } } });
    expect(make({ weight: 0 })).toThrow(ValidationError);
    expect(make({ weight: 1.5 })).toThrow(/options\.queues\.q\.weight/);
    expect(make({ priority: 40_000 })).toThrow(/options\.queues\.q\.priority/);
    expect(make({ priority: 'high' as unknown as number })).toThrow(ValidationError);
  });
});
