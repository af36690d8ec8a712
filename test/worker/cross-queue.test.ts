import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { createWorker, type QueueConfig } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, FAST, sleep, startWorker, stopAll, waitFor } from './helpers.js';

// One worker serving several queues shares its slots between them: a queue with ready work gets its
// share within about one handler run, however deep another queue's backlog or prefetch buffer; weights
// set the shares of slot time; a queue's priority puts it first without starving the others. Waits are
// measured in handler starts (a logical clock), never in wall time.
const t = useTestDb();
afterEach(stopAll);

async function backlog(queue: string, n: number): Promise<void> {
  const q = await t.arbiter.createQueue(queue);
  for (let i = 0; i < n; i += 1_000)
    await q.enqueueManyCount(Array.from({ length: Math.min(1_000, n - i) }, () => ({ payload: {} })));
}

/**
 * Two backlogged queues of identical handlers through one worker, from its start until `calls` handler
 * calls started and it stopped: the slot time each got (the durations the worker reports for their
 * calls). Slot time is what weights share. Job counts follow it only as closely as the two queues'
 * handler durations match, and a window cut out of the run would count a stall on one call in full but
 * not the slots the sharing later holds back for it: the run is measured whole.
 */
async function split(
  a: { name: string } & Omit<QueueConfig, 'handler'>,
  b: { name: string } & Omit<QueueConfig, 'handler'>,
  calls: number,
): Promise<{ a: number; b: number }> {
  await backlog(a.name, calls + 1_000);
  await backlog(b.name, calls + 1_000);
  let starts = 0;
  const slotTime = { [a.name]: 0, [b.name]: 0 };
  const { name: an, ...aConfig } = a;
  const { name: bn, ...bConfig } = b;
  const handler = async () => {
    starts++;
    await sleep(2);
  };
  const worker = createWorker({
    ...FAST,
    arbiter: t.arbiter,
    concurrency: 8,
    queues: { [an]: { ...aConfig, handler }, [bn]: { ...bConfig, handler } },
  });
  worker.on('job:succeeded', (e) => (slotTime[e.queue]! += e.durationMs));
  await worker.start();
  await waitFor(() => starts >= calls, `${calls} calls`, 120_000, 5);
  await worker.stop();
  // Both queues had a backlog throughout.
  expect(await count(t.pool, t.schema, an)).toBeGreaterThan(0);
  expect(await count(t.pool, t.schema, bn)).toBeGreaterThan(0);
  return { a: slotTime[an]!, b: slotTime[bn]! };
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

  it('weights 3:1 split the slot time 3:1 between two backlogged queues (±10%)', async () => {
    const { a, b } = await split({ name: 'w_three', weight: 3 }, { name: 'w_one' }, 4_000);
    expect(a / b).toBeGreaterThanOrEqual(2.7);
    expect(a / b).toBeLessThanOrEqual(3.3);
  });

  it('equal weights by default: two backlogged queues get the same slot time (±10%)', async () => {
    const { a, b } = await split({ name: 'e_one' }, { name: 'e_two' }, 3_000);
    expect(a / b).toBeGreaterThanOrEqual(0.9);
    expect(a / b).toBeLessThanOrEqual(1.1);
  });

  it('a queue of lower priority value goes first, and the other still gets a tenth of the slot time', async () => {
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
