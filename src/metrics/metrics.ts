import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Arbiter } from '../client/arbiter.js';
import { readMetricsSnapshot } from '../client/metrics-snapshot.js';
import type { RecentStatsRow } from '../db/queries/queue-stats.js';
import { ValidationError } from '../errors.js';
import { flowThrottleCounts } from '../store/flow-stats.js';
import type { WorkerEventName, WorkerEvents } from '../worker/events.js';
import type { HandlerWrapper } from '../worker/runner.js';

/** Anything with the worker's typed `on` (a Worker, or a WorkerEventEmitter in tests). */
export interface WorkerEventSource {
  on<K extends WorkerEventName>(name: K, fn: (event: WorkerEvents[K]) => void): () => void;
  /** A Worker also runs handler calls inside wrappers (tracing uses it; see Worker.wrapHandlers). */
  wrapHandlers?(wrapper: HandlerWrapper): () => void;
}

export interface MetricsLogger {
  error(message: string, details?: Record<string, unknown>): void;
}

export interface MetricsOptions {
  arbiter: Arbiter;
  /** Queues whose gauges are refreshed. Default: every queue in the schema, listed at each refresh. */
  queues?: readonly string[];
  /** Registry to register on. Default: a new Registry (never prom-client's global one). */
  registry?: Registry;
  /** Gauge refresh period in ms. Default 15,000. 0 disables the timer (call collect() yourself). */
  intervalMs?: number;
  /** A worker whose last heartbeat is younger than this counts as live. Default 15,000 (the worker's default dead threshold). */
  liveWorkerWindowMs?: number;
  /** Run-duration histogram buckets, in seconds. */
  durationBuckets?: number[];
  /** Where refresh failures go. Default: console.error. */
  logger?: MetricsLogger;
}

export interface ArbiterMetrics {
  readonly registry: Registry;
  /** Subscribes the counters and the histogram to a worker's event stream. Returns a detach function. */
  attach(worker: WorkerEventSource): () => void;
  /** Refreshes every gauge now (one statement). Resolves after the gauges are set. */
  collect(): Promise<void>;
  /**
   * Counts jobs enqueued elsewhere (another Arbiter instance, another process, plain SQL). Enqueues
   * through this metrics object's Arbiter are counted by themselves (Arbiter.onEnqueued).
   */
  recordEnqueued(queue: string, count?: number): void;
  /** Stops the refresh timer and detaches from every worker. Idempotent. */
  stop(): void;
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Prometheus metrics for Arbiter: counters fed by worker events, gauges from one periodic query. */
export function createMetrics(options: MetricsOptions): ArbiterMetrics {
  const { arbiter } = options;
  const registry = options.registry ?? new Registry();
  const intervalMs = options.intervalMs ?? 15_000;
  const liveWindowMs = options.liveWorkerWindowMs ?? 15_000;
  const logger: MetricsLogger = options.logger ?? {
    error: (message, details) => console.error(message, details),
  };
  if (!Number.isFinite(intervalMs) || intervalMs < 0) {
    throw new ValidationError('options.intervalMs', intervalMs, 'must be a number >= 0');
  }
  const fixedQueues = options.queues ? [...options.queues] : undefined;
  fixedQueues?.forEach((q) => arbiter.queue(q)); // validates the names once, up front

  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['queue'] as const, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const enqueued = counter(
    'arbiter_jobs_enqueued_total',
    'Jobs inserted through this Arbiter (including cron), plus what recordEnqueued reports.',
  );
  const completed = counter(
    'arbiter_jobs_completed_total',
    "Jobs whose handler succeeded: counted from the attached worker's events, or, with no worker attached " +
      '(arbiter serve), from the per-minute rollup every worker writes (completed, failed, retried, dead alike).',
  );
  const retried = counter('arbiter_jobs_retried_total', 'Jobs scheduled for another attempt.');
  const failed = counter('arbiter_jobs_failed_total', 'Handler runs that threw or timed out.');
  const dead = counter('arbiter_jobs_dead_total', 'Jobs moved to the dead-letter table by a worker.');
  const parked = counter(
    'arbiter_jobs_parked_total',
    'Runs that parked their job (ctx.sleep, ctx.waitFor, ctx.run): no lease, no slot, the attempt refunded.',
  );
  const steps = new Counter({
    name: 'arbiter_steps_total',
    help: 'Durable steps (ctx.step) finished, by how: ran (run and recorded now) or replayed (stored result returned).',
    labelNames: ['queue', 'how'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'arbiter_job_run_duration_seconds',
    help: 'Handler run time, by outcome: succeeded, or failed (threw, timed out, or returned a result that cannot be stored).',
    labelNames: ['queue', 'outcome'] as const,
    buckets: options.durationBuckets ?? DEFAULT_BUCKETS,
    registers: [registry],
  });
  const pruned = new Counter({
    name: 'arbiter_retention_pruned_total',
    help: "Rows the maintenance leader deleted past a queue's retention, by table (history, dead-letters, reports, attempts, steps, stats) and reason (age, count, gone).",
    labelNames: ['queue', 'table', 'reason'] as const,
    registers: [registry],
  });
  const controlled = new Counter({
    name: 'arbiter_enqueue_controlled_total',
    help:
      'Controlled enqueues by kind (docs/enqueue.md): debounced, throttled, unique_rejected, overflow_rejected, ' +
      'overflow_dropped. Totals of every producer, read from the database at each refresh.',
    labelNames: ['queue', 'kind'] as const,
    registers: [registry],
  });
  const depth = gauge('arbiter_queue_jobs', 'Live jobs by state.', ['queue', 'state']);
  const inFlight = gauge('arbiter_queue_in_flight', 'Jobs whose lease has not expired.', ['queue']);
  const oldest = gauge(
    'arbiter_queue_oldest_ready_age_seconds',
    'How long the longest-due ready job has waited (0 when none is ready).',
    ['queue'],
  );
  const deadLetters = gauge('arbiter_queue_dead_letters', 'Rows in the dead-letter table.', ['queue']);
  const liveWorkers = gauge('arbiter_workers_live', 'Workers with a recent heartbeat.', []);
  const deadTuples = gauge('arbiter_table_dead_tuples', 'n_dead_tup of a queue table.', ['table']);
  const liveTuples = gauge('arbiter_table_live_tuples', 'n_live_tup of a queue table.', ['table']);
  const lastAutovacuum = gauge(
    'arbiter_table_last_autovacuum_timestamp_seconds',
    'Unix time of the last autovacuum of a queue table (absent when never vacuumed).',
    ['table'],
  );
  const flowInFlight = gauge(
    'arbiter_flow_in_flight',
    'Jobs holding a lease, in queues with a cap (maxInFlight): what the cap is compared with.',
    ['queue'],
  );
  const flowMax = gauge('arbiter_flow_max_in_flight', "A queue's cap on jobs in flight (maxInFlight).", [
    'queue',
  ]);
  const flowTokens = gauge('arbiter_flow_tokens', "Tokens in a queue's bucket (queues with a rate limit).", [
    'queue',
  ]);
  const keysAtLimit = gauge(
    'arbiter_flow_keys_at_limit',
    'Limit keys whose jobs in flight reached their limit, in queues with per-key limits.',
    ['queue'],
  );
  const keyInFlight = gauge(
    'arbiter_flow_key_in_flight',
    'Jobs holding a lease per limit key, for keys with an override only (bounded by configuration).',
    ['queue', 'key'],
  );
  const throttledSeen = new Map<string, number>();
  new Counter({
    name: 'arbiter_flow_throttled_claims_total',
    help:
      'Claims of this process that a flow-control limit held back, by queue and limit (max_in_flight, rate, ' +
      'key_max_in_flight, key_rate).',
    labelNames: ['queue', 'limit'] as const,
    registers: [registry],
    collect() {
      for (const [queue, limit, n] of flowThrottleCounts(arbiter.schema)) {
        const k = `${queue}\u0000${limit}`;
        const delta = n - (throttledSeen.get(k) ?? 0);
        if (delta > 0) this.inc({ queue, limit }, delta);
        throttledSeen.set(k, n);
      }
    },
  });
  const scrapeOk = gauge('arbiter_metrics_refresh_success', '1 when the last gauge refresh worked.', []);

  const detachers = new Set<() => void>();
  // Without a worker attached (arbiter serve, a dashboard process), the throughput counters come from the
  // rollup every worker writes (`_queue_stats`): each refresh adds what its recent rows gained since the
  // last one (the first reading is the baseline: counters start at 0, as a process's own do).
  const rollupSeen = new Map<string, { completed: number; failed: number; dead: number }>();
  let rollupBaselined = false;
  function countRollup(rows: readonly RecentStatsRow[]): void {
    const keep = new Set<string>();
    for (const r of rows) {
      const key = `${r.queue}\u0000${r.minute.getTime()}`;
      keep.add(key);
      const prev = rollupSeen.get(key) ?? { completed: 0, failed: 0, dead: 0 };
      rollupSeen.set(key, { completed: r.completed, failed: r.failed, dead: r.dead });
      if (!rollupBaselined) continue;
      const queue = r.queue;
      const dc = r.completed - prev.completed;
      const df = r.failed - prev.failed;
      const dd = r.dead - prev.dead;
      if (dc > 0) completed.inc({ queue }, dc);
      if (df > 0) failed.inc({ queue }, df);
      if (df - dd > 0) retried.inc({ queue }, df - dd);
      if (dd > 0) dead.inc({ queue }, dd);
    }
    for (const key of rollupSeen.keys()) if (!keep.has(key)) rollupSeen.delete(key);
    rollupBaselined = true;
  }
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    try {
      const queues = fixedQueues ?? (await arbiter.listQueues()).map((q) => q.name);
      const snap = await readMetricsSnapshot(arbiter, queues, liveWindowMs);
      // Reset first so a dropped queue's series disappear instead of freezing at their last value.
      for (const g of [
        depth,
        inFlight,
        oldest,
        deadLetters,
        deadTuples,
        liveTuples,
        lastAutovacuum,
        flowInFlight,
        flowMax,
        flowTokens,
        keysAtLimit,
        keyInFlight,
      ])
        g.reset();
      // Flow-control gauges, only for queues with a configured limit (bounded labels), from the snapshot.
      const leased = new Map(snap.queues.map((q) => [q.queue, q.leased]));
      for (const f of snap.flow) {
        if (f.maxInFlight !== null) {
          flowInFlight.set({ queue: f.queue }, leased.get(f.queue) ?? 0);
          flowMax.set({ queue: f.queue }, f.maxInFlight);
        }
        if (f.tokens !== null) flowTokens.set({ queue: f.queue }, f.tokens);
      }
      for (const k of snap.keys) {
        keysAtLimit.set({ queue: k.queue }, k.atLimit);
        for (const c of k.configured) keyInFlight.set({ queue: k.queue, key: c.key }, c.inFlight);
      }
      for (const q of snap.queues) {
        for (const state of ['ready', 'scheduled', 'retrying', 'suspended', 'exhausted'] as const) {
          depth.set({ queue: q.queue, state }, q[state]);
        }
        depth.set({ queue: q.queue, state: 'in-flight' }, q.inFlight);
        inFlight.set({ queue: q.queue }, q.inFlight);
        oldest.set({ queue: q.queue }, q.oldestReadyAgeSeconds ?? 0);
        deadLetters.set({ queue: q.queue }, q.dead);
      }
      for (const t of snap.tables) {
        deadTuples.set({ table: t.table }, t.deadTuples);
        liveTuples.set({ table: t.table }, t.liveTuples);
        if (t.lastAutovacuum) lastAutovacuum.set({ table: t.table }, t.lastAutovacuum.getTime() / 1000);
      }
      liveWorkers.set(snap.liveWorkers);
      if (detachers.size === 0) countRollup(snap.throughput);
      // Database totals: set (reset, then add), never counted here, so every process reports the same.
      controlled.reset();
      for (const c of snap.enqueueControls) controlled.inc({ queue: c.queue, kind: c.kind }, c.count);
      scrapeOk.set(1);
    } catch (error) {
      // A refresh failure must not crash the host; the stale values stay and the success gauge says so.
      scrapeOk.set(0);
      logger.error('arbiter metrics: gauge refresh failed', { error });
    }
  }

  function collect(): Promise<void> {
    // Concurrent callers share one statement rather than piling up queries.
    inflight ??= refresh().finally(() => (inflight = undefined));
    return inflight;
  }

  const offEnqueued = arbiter.onEnqueued((e) => enqueued.inc({ queue: e.queue }, e.count));

  if (intervalMs > 0) {
    timer = setInterval(() => void collect(), intervalMs);
    timer.unref();
    void collect();
  }

  return {
    registry,
    attach(worker) {
      const offs = [
        worker.on('job:succeeded', (e) => {
          completed.inc({ queue: e.queue });
          duration.observe({ queue: e.queue, outcome: 'succeeded' }, e.durationMs / 1000);
        }),
        worker.on('job:retried', (e) => retried.inc({ queue: e.queue })),
        worker.on('job:failed', (e) => {
          failed.inc({ queue: e.queue });
          duration.observe({ queue: e.queue, outcome: 'failed' }, e.durationMs / 1000);
        }),
        worker.on('job:dead', (e) => dead.inc({ queue: e.queue })),
        worker.on('job:parked', (e) => parked.inc({ queue: e.queue })),
        worker.on('job:step', (e) => steps.inc({ queue: e.queue, how: e.replayed ? 'replayed' : 'ran' })),
        // The maintenance leader dead-letters and retries jobs whose worker vanished; no job:* event
        // fires for those, so they are counted from the maintenance events.
        worker.on('maintenance:exhausted-reaped', (e) => dead.inc({ queue: e.queue }, e.count)),
        worker.on('maintenance:stale-recovered', (e) => {
          retried.inc({ queue: e.queue }, e.retried);
          dead.inc({ queue: e.queue }, e.dead);
        }),
        worker.on('maintenance:pruned', (e) =>
          pruned.inc({ queue: e.queue, table: e.table, reason: e.reason }, e.count),
        ),
      ];
      const detach = () => {
        offs.forEach((off) => off());
        detachers.delete(detach);
      };
      detachers.add(detach);
      return detach;
    },
    collect,
    recordEnqueued(queue, count = 1) {
      if (!Number.isInteger(count) || count < 0) {
        throw new ValidationError('count', count, 'must be a non-negative integer');
      }
      enqueued.inc({ queue }, count);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      offEnqueued();
      [...detachers].forEach((d) => d());
    },
  };
}
