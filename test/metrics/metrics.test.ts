import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { Arbiter, ValidationError, type Executor, type Job } from '../../src/index.js';
import { PoolExecutor } from '../../src/db/pg-executor.js';
import { createAdminApp } from '../../src/http/index.js';
import { createMetrics, type ArbiterMetrics } from '../../src/metrics/index.js';
import { WorkerEventEmitter } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { call, TOKEN } from '../http/helpers.js';
import { parsePrometheusText, valueOf } from './prom-text.js';

const db = useTestDb();
const made: ArbiterMetrics[] = [];
const metricsFor = (options: Partial<Parameters<typeof createMetrics>[0]> = {}) => {
  const m = createMetrics({ arbiter: db.arbiter, intervalMs: 0, logger: { error() {} }, ...options });
  made.push(m);
  return m;
};
const scrape = async (m: ArbiterMetrics) => parsePrometheusText(await m.registry.metrics());

afterEach(stopAll);
afterAll(() => made.forEach((m) => m.stop()));

describe('gauges (one periodic query)', () => {
  beforeAll(async () => {
    const q = await db.arbiter.createQueue('m_gauges');
    await q.enqueueMany([1, 2, 3, 4].map((n) => ({ payload: { n } })));
    await q.enqueueMany([5, 6].map((n) => ({ payload: { n }, delayMs: 3_600_000 })));
    await q.enqueue({ n: 7 }, { suspended: true });
    const [held] = await q.claim({ limit: 1 });
    await q.dlq.move(held!, 'boom');
    await q.claim({ limit: 1, leaseMs: 60_000 });
  });

  it('reflect depth by state, in flight, dead letters, oldest age and table health', async () => {
    const m = metricsFor({ queues: ['m_gauges'] });
    await m.collect();
    const s = await scrape(m);
    const q = { queue: 'm_gauges' };
    expect(valueOf(s, 'arbiter_queue_jobs', { ...q, state: 'ready' })).toBe(2);
    expect(valueOf(s, 'arbiter_queue_jobs', { ...q, state: 'scheduled' })).toBe(2);
    expect(valueOf(s, 'arbiter_queue_jobs', { ...q, state: 'suspended' })).toBe(1);
    expect(valueOf(s, 'arbiter_queue_jobs', { ...q, state: 'in-flight' })).toBe(1);
    expect(valueOf(s, 'arbiter_queue_in_flight', q)).toBe(1);
    expect(valueOf(s, 'arbiter_queue_dead_letters', q)).toBe(1);
    expect(valueOf(s, 'arbiter_queue_oldest_ready_age_seconds', q)).toBeGreaterThanOrEqual(0);
    expect(valueOf(s, 'arbiter_metrics_refresh_success')).toBe(1);
    // pg_stat_user_tables may lag a little, but the tables are listed.
    expect(valueOf(s, 'arbiter_table_dead_tuples', { table: 'm_gauges' })).toBeGreaterThanOrEqual(0);
    expect(valueOf(s, 'arbiter_table_dead_tuples', { table: 'm_gauges_dlq' })).toBeGreaterThanOrEqual(0);
  });

  it('follow changes on the next refresh, and every queue when none are listed', async () => {
    const m = metricsFor();
    const q = await db.arbiter.createQueue('m_follow');
    await m.collect();
    expect(valueOf(await scrape(m), 'arbiter_queue_jobs', { queue: 'm_follow', state: 'ready' })).toBe(0);
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: n })));
    await m.collect();
    const s = await scrape(m);
    expect(valueOf(s, 'arbiter_queue_jobs', { queue: 'm_follow', state: 'ready' })).toBe(3);
    expect(valueOf(s, 'arbiter_queue_dead_letters', { queue: 'm_gauges' })).toBe(1);
    await db.arbiter.dropQueue('m_follow');
    await m.collect();
    expect(
      valueOf(await scrape(m), 'arbiter_queue_jobs', { queue: 'm_follow', state: 'ready' }),
    ).toBeUndefined();
  });

  it('show flow-control use only for queues with a configured limit, in the same refresh', async () => {
    const q = await db.arbiter.createQueue('m_flow');
    await db.arbiter.setQueueLimits('m_flow', { maxInFlight: 5, rate: { perSecond: 10, burst: 20 } });
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n } })));
    expect(await q.claim({ limit: 2 })).toHaveLength(2);
    const m = metricsFor({ queues: ['m_flow', 'm_gauges'] });
    await m.collect();
    const s = await scrape(m);
    expect(valueOf(s, 'arbiter_flow_in_flight', { queue: 'm_flow' })).toBe(2);
    expect(valueOf(s, 'arbiter_flow_max_in_flight', { queue: 'm_flow' })).toBe(5);
    // The claim took 2 of the 20 tokens; refilling at 10/s since, never above the burst.
    const tokens = valueOf(s, 'arbiter_flow_tokens', { queue: 'm_flow' })!;
    expect(tokens).toBeGreaterThanOrEqual(18);
    expect(tokens).toBeLessThanOrEqual(20);
    expect(valueOf(s, 'arbiter_flow_in_flight', { queue: 'm_gauges' })).toBeUndefined();
    expect(valueOf(s, 'arbiter_flow_tokens', { queue: 'm_gauges' })).toBeUndefined();
  });

  it('show keys at their limit, and the jobs in flight of configured keys only, in one more statement', async () => {
    for (const name of ['m_keys_a', 'm_keys_b']) {
      const q = await db.arbiter.createQueue(name);
      await db.arbiter.setQueueLimits(name, { perKey: { maxInFlight: 1 } });
      await q.enqueueMany([
        { payload: 1, limitKey: 'acme' },
        { payload: 2, limitKey: 'acme' },
        { payload: 3, limitKey: 'globex' },
        { payload: 4, limitKey: 'initech' },
        { payload: 5 },
      ]);
    }
    await db.arbiter.createQueue('m_keys_plain');
    await db.arbiter.setQueueLimits('m_keys_plain', { maxInFlight: 9 });
    await db.arbiter.setKeyLimits('m_keys_a', 'globex', { maxInFlight: 3, weight: 2 });
    await db.arbiter.setKeyLimits('m_keys_a', 'umbrella', { weight: 5 }); // configured, no job
    const a = db.arbiter.queue('m_keys_a');
    // One job of each key: acme and initech are then at their default limit of 1, globex below its 3.
    expect(await a.claim({ limit: 10 })).toHaveLength(4);
    // Acme's second job is ready but its key is at its limit: the claim is held back by the key cap.
    expect(await a.claim({ limit: 10 })).toHaveLength(0);

    const inner = new PoolExecutor(db.pool);
    let statements = 0;
    const counting: Executor = {
      query: (text, values, name) => {
        statements += 1;
        return inner.query(text, values, name);
      },
      transaction: (fn) => inner.transaction(fn),
    };
    const arbiter = new Arbiter({ executor: counting, schema: db.schema });
    const m = metricsFor({ arbiter, queues: ['m_keys_a', 'm_keys_b', 'm_keys_plain'] });
    await m.collect();
    const first = statements;
    await m.collect();
    // The snapshot, and one statement for the key gauges of both keyed queues.
    expect(statements - first).toBe(2);
    const s = await scrape(m);
    expect(valueOf(s, 'arbiter_flow_keys_at_limit', { queue: 'm_keys_a' })).toBe(2);
    expect(valueOf(s, 'arbiter_flow_keys_at_limit', { queue: 'm_keys_b' })).toBe(0);
    expect(valueOf(s, 'arbiter_flow_keys_at_limit', { queue: 'm_keys_plain' })).toBeUndefined();
    expect(valueOf(s, 'arbiter_flow_max_in_flight', { queue: 'm_keys_plain' })).toBe(9);
    expect(valueOf(s, 'arbiter_flow_key_in_flight', { queue: 'm_keys_a', key: 'globex' })).toBe(1);
    expect(valueOf(s, 'arbiter_flow_key_in_flight', { queue: 'm_keys_a', key: 'umbrella' })).toBe(0);
    // Keys without an override get no series of their own: labels stay bounded by configuration.
    const keyed = s.filter((x) => x.name === 'arbiter_flow_key_in_flight');
    expect(keyed.map((x) => x.labels.key).sort()).toEqual(['globex', 'umbrella']);
    expect(
      valueOf(s, 'arbiter_flow_throttled_claims_total', { queue: 'm_keys_a', limit: 'key_max_in_flight' }),
    ).toBeGreaterThanOrEqual(1);

    // Keys turned off: the key gauges of the queue go at the next refresh.
    await db.arbiter.setQueueLimits('m_keys_b', { perKey: null });
    await m.collect();
    expect(valueOf(await scrape(m), 'arbiter_flow_keys_at_limit', { queue: 'm_keys_b' })).toBeUndefined();
  });

  it('costs exactly one statement per refresh for a fixed queue set', async () => {
    const inner = new PoolExecutor(db.pool);
    let statements = 0;
    const counting: Executor = {
      query: (text, values, name) => {
        statements += 1;
        return inner.query(text, values, name);
      },
      transaction: (fn) => inner.transaction(fn),
    };
    const arbiter = new Arbiter({ executor: counting, schema: db.schema });
    const m = metricsFor({ arbiter, queues: ['m_gauges'] });
    // The first refresh also runs the Arbiter's schema check, once for the life of the Arbiter.
    await m.collect();
    const first = statements;
    await m.collect();
    await m.collect();
    expect(statements - first).toBe(2);
  });

  it('count controlled enqueues per queue and kind, from every producer', async () => {
    const q = await db.arbiter.createQueue('m_controls');
    const other = new Arbiter({ pool: db.pool, schema: db.schema }).queue('m_controls');
    for (const p of [q, other, q]) await p.enqueue({}, { debounce: { key: 'd', windowMs: 60_000 } });
    for (const p of [q, other]) await p.enqueue({}, { throttle: { key: 't', windowMs: 60_000 } });
    for (const p of [q, other, other]) await p.enqueue({}, { unique: { key: 'u', forMs: 60_000 } });
    await expect(q.enqueue({}, { maxQueued: { limit: 1 } })).rejects.toThrow(/maxQueued/);
    const m = metricsFor({ queues: ['m_controls'] });
    await m.collect();
    const s = await scrape(m);
    const kind = (k: string) =>
      valueOf(s, 'arbiter_enqueue_controlled_total', { queue: 'm_controls', kind: k });
    expect(kind('debounced')).toBe(2);
    expect(kind('throttled')).toBe(1);
    expect(kind('unique_rejected')).toBe(2);
    expect(kind('overflow_rejected')).toBe(1);
  });

  it('refreshes on its own timer and stops', async () => {
    const q = await db.arbiter.createQueue('m_timer');
    const m = metricsFor({ queues: ['m_timer'], intervalMs: 50 });
    await q.enqueue({ x: 1 });
    await waitFor(
      async () => valueOf(await scrape(m), 'arbiter_queue_jobs', { queue: 'm_timer', state: 'ready' }) === 1,
      'timer refresh',
    );
    m.stop();
    await q.enqueue({ x: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(valueOf(await scrape(m), 'arbiter_queue_jobs', { queue: 'm_timer', state: 'ready' })).toBe(1);
  });

  it('reports a failed refresh without throwing', async () => {
    const errors: unknown[] = [];
    const m = metricsFor({ queues: ['m_never_created'], logger: { error: (_m, d) => errors.push(d) } });
    await m.collect();
    expect(valueOf(await scrape(m), 'arbiter_metrics_refresh_success')).toBe(0);
    expect(errors).toHaveLength(1);
  });
});

describe('counters from the worker event stream', () => {
  it('move with simulated events and stop after detach', async () => {
    const m = metricsFor({ queues: [] });
    const events = new WorkerEventEmitter();
    const detach = m.attach(events);
    const job = { id: '1', queue: 'sim' } as Job;
    events.emit('job:succeeded', { queue: 'sim', job, durationMs: 120 });
    events.emit('job:succeeded', { queue: 'sim', job, durationMs: 30 });
    events.emit('job:failed', {
      queue: 'sim',
      job,
      error: new Error('x'),
      timedOut: false,
      durationMs: 2_000,
    });
    events.emit('job:retried', { queue: 'sim', job, delayMs: 10, error: 'x' });
    events.emit('job:dead', { queue: 'sim', job, error: 'x' });
    events.emit('cron:fired', { name: 'c', queue: 'sim', tick: new Date(), jobId: '9', skipped: false });
    events.emit('maintenance:exhausted-reaped', { queue: 'sim', count: 2 });
    events.emit('maintenance:stale-recovered', { queue: 'sim', retried: 3, dead: 1 });
    m.recordEnqueued('sim', 4);
    expect(() => m.recordEnqueued('sim', -1)).toThrow(ValidationError);
    detach();
    events.emit('job:succeeded', { queue: 'sim', job, durationMs: 1 });
    const s = await scrape(m);
    const q = { queue: 'sim' };
    expect(valueOf(s, 'arbiter_jobs_completed_total', q)).toBe(2);
    expect(valueOf(s, 'arbiter_jobs_failed_total', q)).toBe(1);
    expect(valueOf(s, 'arbiter_jobs_retried_total', q)).toBe(1 + 3);
    expect(valueOf(s, 'arbiter_jobs_dead_total', q)).toBe(1 + 2 + 1);
    // Cron enqueues are counted where every enqueue is: at the Arbiter (see the next test).
    expect(valueOf(s, 'arbiter_jobs_enqueued_total', q)).toBe(4);
    const ok = { ...q, outcome: 'succeeded' };
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_count', ok)).toBe(2);
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_sum', ok)).toBeCloseTo(0.15);
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_bucket', { ...ok, le: '0.05' })).toBe(1);
    const failed = { ...q, outcome: 'failed' };
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_count', failed)).toBe(1);
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_sum', failed)).toBeCloseTo(2);
  });

  it('count every enqueue made through the Arbiter, and none that inserted nothing', async () => {
    const m = metricsFor({ queues: [] });
    const q = await db.arbiter.createQueue('m_enqueued');
    await q.enqueue({ a: 1 });
    await q.enqueueMany([{ payload: { b: 1 } }, { payload: { b: 2 } }]);
    await q.enqueueManyCount([{ payload: { c: 1 } }]);
    await q.enqueueTree({ payload: { p: 1 }, children: [{ payload: { c: 1 } }, { payload: { c: 2 } }] });
    await q.enqueue({ d: 1 }, { dedup: { key: 'once' } });
    await q.enqueue({ d: 2 }, { dedup: { key: 'once' } }); // skipped: inserts nothing
    await q.enqueue({ e: 1 }, { idempotencyKey: 'k' });
    await q.enqueue({ e: 1 }, { idempotencyKey: 'k' }); // returns the existing job
    m.stop();
    await q.enqueue({ after: 'stop' });
    const s = await scrape(m);
    expect(valueOf(s, 'arbiter_jobs_enqueued_total', { queue: 'm_enqueued' })).toBe(1 + 2 + 1 + 3 + 1 + 1);
    expect(await q.jobs.count()).toBe(10);
  });

  it('move when a real worker runs jobs', async () => {
    const q = await db.arbiter.createQueue<{ fail?: boolean }>('m_worker');
    const m = metricsFor({ queues: ['m_worker'] });
    const w = await startWorker(db.arbiter, {
      queues: {
        m_worker: {
          handler: async (job: Job<{ fail?: boolean }>) => {
            if (job.payload.fail) throw new Error('handler failed');
          },
          backoff: { type: 'linear', delayMs: 60_000, constant: true },
        },
      },
    });
    m.attach(w);
    await q.enqueueMany([{ payload: {} }, { payload: {} }, { payload: {} }]);
    await q.enqueue({ fail: true }, { maxAttempts: 1 });
    await q.enqueue({ fail: true }, { maxAttempts: 5 });
    const q1 = { queue: 'm_worker' };
    await waitFor(async () => {
      const s = await scrape(m);
      return (
        valueOf(s, 'arbiter_jobs_completed_total', q1) === 3 &&
        valueOf(s, 'arbiter_jobs_dead_total', q1) === 1 &&
        valueOf(s, 'arbiter_jobs_retried_total', q1) === 1
      );
    }, 'counters');
    const s = await scrape(m);
    expect(valueOf(s, 'arbiter_jobs_failed_total', q1)).toBe(2);
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_count', { ...q1, outcome: 'succeeded' })).toBe(3);
    expect(valueOf(s, 'arbiter_job_run_duration_seconds_count', { ...q1, outcome: 'failed' })).toBe(2);
    // The worker enqueued nothing; the test's own five enqueues went through the same Arbiter.
    expect(valueOf(s, 'arbiter_jobs_enqueued_total', q1)).toBe(5);
    await m.collect();
    expect(valueOf(await scrape(m), 'arbiter_queue_dead_letters', q1)).toBe(1);
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text behind auth, or publicly with publicMetrics', async () => {
    const registry = new Registry();
    const m = metricsFor({ registry, queues: ['m_gauges'] });
    await m.collect();
    const guarded = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, metrics: m });
    expect((await call(guarded, 'GET', '/metrics', undefined, {})).status).toBe(401);
    const ok = await call(guarded, 'GET', '/metrics', undefined, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    const samples = parsePrometheusText(ok.text);
    expect(valueOf(samples, 'arbiter_queue_dead_letters', { queue: 'm_gauges' })).toBe(1);
    const open = createAdminApp({
      arbiter: db.arbiter,
      auth: { token: TOKEN },
      metrics: m,
      publicMetrics: true,
    });
    expect((await call(open, 'GET', '/metrics', undefined, {})).status).toBe(200);
    expect((await call(open, 'GET', '/queues', undefined, {})).status).toBe(401);
    // Mounted under a prefix: still public, and nothing else becomes public with it.
    const mounted = new Hono().route('/admin', open);
    expect((await mounted.request('/admin/metrics')).status).toBe(200);
    expect((await mounted.request('/admin/queues/metrics')).status).toBe(401);
    const none = createAdminApp({ arbiter: db.arbiter });
    expect((await call(none, 'GET', '/metrics', undefined, {})).status).toBe(404);
  });

  it('the parser rejects malformed text (it can fail)', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na{x="1} 1\n')).toThrow();
    expect(() => parsePrometheusText('b 1\n')).toThrow(/undeclared/);
    expect(() => parsePrometheusText('# TYPE a gauge\na one\n')).toThrow(/bad value/);
  });
});
