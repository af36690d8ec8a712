import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchTooLargeError,
  DependencyNotFoundError,
  FlowCycleError,
  FlowNotFoundError,
  JobFailedError,
  QueueNotFoundError,
  UnknownDependencyError,
  type Job,
} from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

afterEach(stopAll);

type Step = { step: string };

describe('flows', () => {
  it('runs nodes across queues in dependency order; a node reads its dependencies results', async () => {
    const stock = await t.arbiter.createQueue<Step, { reserved: number }>('fl_stock');
    const pay = await t.arbiter.createQueue<Step, { charged: number }>('fl_pay');
    await t.arbiter.createQueue<Step>('fl_note');
    const order: string[] = [];
    const seen: Record<string, unknown> = {};
    const handler = async (job: Job<Step>) => {
      order.push(job.payload.step);
      const deps = await t.arbiter.flows.dependencies(job);
      for (const [name, d] of Object.entries(deps)) {
        // Nothing starts before its dependencies finished.
        expect(d.state).toBe('succeeded');
        seen[`${job.payload.step}<-${name}`] = d.value;
      }
      if (job.payload.step === 'reserve') return { reserved: 2 };
      if (job.payload.step === 'charge') return { charged: 10 };
      return `notified after ${Object.keys(deps).join('+')}`;
    };
    const flow = await t.arbiter.flow({
      name: 'order 42',
      nodes: {
        reserve: { queue: stock, payload: { step: 'reserve' } },
        charge: { queue: pay, payload: { step: 'charge' }, dependsOn: ['reserve'] },
        notify: { queue: 'fl_note', payload: { step: 'notify' }, dependsOn: ['reserve', 'charge'] },
      },
    });
    expect(flow.jobs.charge.status).toBe('waiting');
    const before = await t.arbiter.flows.get(flow.id);
    expect(before.state).toBe('active');
    expect(before.nodes.find((n) => n.name === 'notify')!.waitingFor).toEqual(['reserve', 'charge']);
    await startWorker(t.arbiter, {
      concurrency: 4,
      queues: { fl_stock: { handler }, fl_pay: { handler }, fl_note: { handler } },
    });
    const results = await flow.result({ timeoutMs: 60_000 });
    // Typed: reserve's result is { reserved: number }.
    const reserved: number = results.reserve.reserved;
    expect(reserved).toBe(2);
    expect(results.charge).toEqual({ charged: 10 });
    expect(results.notify).toBe('notified after charge+reserve');
    expect(order).toEqual(['reserve', 'charge', 'notify']);
    expect(seen['notify<-charge']).toEqual({ charged: 10 });
    const after = await t.arbiter.flows.get(flow.id);
    expect(after.state).toBe('succeeded');
    expect(after.nodes.map((n) => n.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const list = await t.arbiter.flows.list();
    expect(list[0]).toMatchObject({ id: flow.id, state: 'succeeded', nodeCount: 3 });
  });

  it('a failed node cancels its dependents, a continue dependent runs and sees the error; a DLQ retry resumes', async () => {
    await t.arbiter.createQueue<Step>('fl_fail');
    let failCharge = true;
    const ran: string[] = [];
    await startWorker(t.arbiter, {
      queues: {
        fl_fail: {
          handler: async (job: Job<Step>) => {
            ran.push(job.payload.step);
            if (job.payload.step === 'charge' && failCharge) throw new Error('card declined');
            if (job.payload.step === 'audit') {
              const deps = await t.arbiter.flows.dependencies(job);
              return { chargeState: deps.charge!.state, chargeError: deps.charge!.error };
            }
            return job.payload.step;
          },
          backoff: { type: 'linear', delayMs: 5, maxMs: 5 },
        },
      },
    });
    const flow = await t.arbiter.flow({
      nodes: {
        charge: { queue: 'fl_fail', payload: { step: 'charge' }, options: { maxAttempts: 1 } },
        ship: { queue: 'fl_fail', payload: { step: 'ship' }, dependsOn: ['charge'] },
        thank: { queue: 'fl_fail', payload: { step: 'thank' }, dependsOn: ['ship'] },
        audit: {
          queue: 'fl_fail',
          payload: { step: 'audit' },
          dependsOn: ['charge'],
          onDependencyFailure: 'continue',
        },
      },
    });
    const err = await flow.result({ timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    const audit = await t.arbiter.queue('fl_fail').awaitResult(flow.jobs.audit.id, { timeoutMs: 60_000 });
    expect(audit).toMatchObject({ chargeState: 'failed' });
    expect((audit as { chargeError: string }).chargeError).toContain('card declined');
    const failed = (await waitFor(async () => {
      const f = await t.arbiter.flows.get(flow.id);
      return f.state === 'failed' ? f : null;
    }, 'flow failed'))!;
    const states = Object.fromEntries(failed.nodes.map((n) => [n.name, n.state]));
    expect(states).toEqual({ charge: 'failed', ship: 'cancelled', thank: 'cancelled', audit: 'succeeded' });
    expect(failed.nodes.find((n) => n.name === 'ship')!.error).toContain('charge failed');
    expect(ran.sort()).toEqual(['audit', 'charge']);

    // Retrying the dead letter resumes the flow: charge runs again, then ship and thank.
    failCharge = false;
    const [dead] = (await t.arbiter.queue('fl_fail').dlq.list()).items;
    expect(dead!.jobId).toBe(flow.jobs.charge.id);
    await t.arbiter.queue('fl_fail').dlq.retry(dead!.id);
    const done = (await waitFor(
      async () => {
        const f = await t.arbiter.flows.get(flow.id);
        return f.state === 'succeeded' ? f : null;
      },
      'flow resumed and succeeded',
      60_000,
    ))!;
    expect(done.nodes.map((n) => n.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(ran.filter((s) => s === 'audit')).toHaveLength(1);
  });

  it('cancels a whole flow', async () => {
    const q = await t.arbiter.createQueue<Step>('fl_cancel');
    const flow = await t.arbiter.flow({
      nodes: {
        a: { queue: q, payload: { step: 'a' }, options: { delayMs: 3_600_000 } },
        b: { queue: q, payload: { step: 'b' }, dependsOn: ['a'] },
      },
    });
    // An operator's resume does not release a node that waits for its dependencies.
    expect(await q.jobs.resume(flow.jobs.b.id)).toBe(0);
    expect(await q.jobs.resumeMany([flow.jobs.b.id])).toBe(0);
    expect((await q.jobs.get(flow.jobs.b.id))!.suspended).toBe(true);
    const waiting = flow.result({ timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(await t.arbiter.flows.cancel(flow.id)).toBe(2);
    expect((await waiting) as JobFailedError).toBeInstanceOf(JobFailedError);
    const f = await t.arbiter.flows.get(flow.id);
    expect(f.state).toBe('cancelled');
    expect(f.nodes.map((n) => n.state)).toEqual(['cancelled', 'cancelled']);
    expect(await count(t.pool, t.schema, 'fl_cancel')).toBe(0);
    await expect(t.arbiter.flows.cancel('999999')).rejects.toBeInstanceOf(FlowNotFoundError);
  });

  it('bad definitions get typed errors and write nothing', async () => {
    const q = await t.arbiter.createQueue<Step>('fl_bad');
    const flowsBefore = await count(t.pool, t.schema, '_flows');
    await expect(
      t.arbiter.flow({
        nodes: {
          a: { queue: q, payload: { step: 'a' }, dependsOn: ['c'] },
          b: { queue: q, payload: { step: 'b' }, dependsOn: ['a'] },
          c: { queue: q, payload: { step: 'c' }, dependsOn: ['b'] },
        },
      }),
    ).rejects.toSatisfy((e) => e instanceof FlowCycleError && e.cycle.join('>') === 'a>c>b>a');
    await expect(
      t.arbiter.flow({ nodes: { a: { queue: q, payload: { step: 'a' }, dependsOn: ['nope' as 'a'] } } }),
    ).rejects.toBeInstanceOf(UnknownDependencyError);
    const big: Record<string, { queue: string; payload: Step }> = {};
    for (let i = 0; i <= 1000; i++) big[`n${i}`] = { queue: 'fl_bad', payload: { step: 'x' } };
    await expect(t.arbiter.flow({ nodes: big })).rejects.toBeInstanceOf(BatchTooLargeError);
    // A queue that does not exist rolls back the nodes already inserted on other queues.
    await expect(
      t.arbiter.flow({
        nodes: {
          a: { queue: q, payload: { step: 'a' } },
          z: { queue: 'fl_missing', payload: { step: 'z' }, dependsOn: ['a'] },
        },
      }),
    ).rejects.toBeInstanceOf(QueueNotFoundError);
    expect(await count(t.pool, t.schema, '_flows')).toBe(flowsBefore);
    expect(await count(t.pool, t.schema, 'fl_bad')).toBe(0);
    // dependsOn on a plain enqueue: a job that does not exist.
    await expect(q.enqueue({ step: 'x' }, { dependsOn: ['424242'] })).rejects.toBeInstanceOf(
      DependencyNotFoundError,
    );
    expect(await count(t.pool, t.schema, 'fl_bad')).toBe(0);
  });

  it('dependsOn on a plain enqueue waits for existing jobs of any queue', async () => {
    const a = await t.arbiter.createQueue<Step>('fl_dep_a');
    const b = await t.arbiter.createQueue<Step>('fl_dep_b');
    const first = (await a.enqueue({ step: 'first' }))!;
    const second = (await b.enqueue({ step: 'second' }))!;
    const after = await b.enqueue({ step: 'after' }, { dependsOn: [first, second.id], result: true });
    expect(after.status).toBe('waiting');
    expect((await b.jobs.list({ filter: { status: ['waiting'] } })).items.map((j) => j.id)).toEqual([
      after.id,
    ]);
    const why = await b.jobs.why(after.id);
    expect(why!.reasons[0]).toMatchObject({ code: 'waiting-dependencies' });
    expect(why!.reasons[0]!.text).toContain(
      `Waiting for dependencies fl_dep_a/${first.id}, fl_dep_b/${second.id}`,
    );
    const ran: string[] = [];
    const handler = async (job: Job<Step>) => {
      ran.push(job.payload.step);
      return Object.keys(await t.arbiter.flows.dependencies(job)).sort();
    };
    await startWorker(t.arbiter, { queues: { fl_dep_a: { handler }, fl_dep_b: { handler } } });
    expect(await after.result({ timeoutMs: 60_000 })).toEqual([
      `fl_dep_a/${first.id}`,
      `fl_dep_b/${second.id}`,
    ]);
    expect(ran.at(-1)).toBe('after');
  });
});

describe('flow retention', () => {
  it('prunes a failed flow past its retention, with the jobs its failure left parked', async () => {
    const q = await t.arbiter.createQueue<Step>('fl_prune');
    const flow = await t.arbiter.flow({
      retainMs: 1,
      nodes: {
        a: { queue: q, payload: { step: 'a' }, options: { maxAttempts: 1 } },
        b: { queue: q, payload: { step: 'b' }, dependsOn: ['a'] },
      },
    });
    const [a] = await q.claim();
    await q.dlq.move(a!, 'broken');
    expect((await t.arbiter.flows.get(flow.id)).state).toBe('failed');
    expect(await count(t.pool, t.schema, 'fl_prune')).toBe(1); // b, parked
    await waitFor(async () => {
      const { rows } = await t.pool.query<{ n: number }>(`SELECT "${t.schema}"._track_prune(500) AS n`);
      return rows[0]!.n > 0;
    }, 'the flow pruned');
    await expect(t.arbiter.flows.get(flow.id)).rejects.toBeInstanceOf(FlowNotFoundError);
    expect(await count(t.pool, t.schema, 'fl_prune')).toBe(0);
    expect(await count(t.pool, t.schema, '_tracked_jobs', `queue = 'fl_prune'`)).toBe(0);
  });
});
