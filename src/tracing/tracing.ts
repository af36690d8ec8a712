import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { EnqueueCallOptions, Queue } from '../client/queue.js';
import type { Job } from '../types.js';
import type { WorkerEventSource } from '../metrics/metrics.js';

/** Key under `job.meta` holding the W3C trace context of the enqueue (traceparent, tracestate). */
export const TRACE_META_KEY = 'otel';

const DEFAULT_TRACER = 'arbiter';

export interface TracingOptions {
  /** Tracer to use. Default: `trace.getTracer('arbiter')` from the globally registered provider. */
  tracer?: Tracer;
}

function tracerOf(options: TracingOptions): Tracer {
  return options.tracer ?? trace.getTracer(DEFAULT_TRACER);
}

/**
 * `meta` plus the active trace context (W3C traceparent/tracestate) under `meta.otel`. With no
 * OpenTelemetry SDK or propagator registered, nothing is injected and `meta` comes back unchanged.
 */
export function withTraceContext(
  meta: Record<string, unknown> | null | undefined,
  ctx: Context = context.active(),
): Record<string, unknown> | null | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (Object.keys(carrier).length === 0) return meta;
  return { ...(meta ?? {}), [TRACE_META_KEY]: carrier };
}

/** The trace context stored with a job by withTraceContext / tracedEnqueue (the root context if none). */
export function jobTraceContext(job: Pick<Job, 'meta'>): Context {
  const carrier = job.meta?.[TRACE_META_KEY];
  if (carrier === null || typeof carrier !== 'object') return context.active();
  return propagation.extract(context.active(), carrier as Record<string, string>);
}

/**
 * Enqueues inside a PRODUCER span (`<queue> publish`) and stores the span's context with the job, so
 * the processing span continues the same trace. Without an SDK the span is a no-op and the job is
 * enqueued exactly as `queue.enqueue` would.
 */
export async function tracedEnqueue<T>(
  queue: Queue<T>,
  payload: T,
  options: EnqueueCallOptions = {},
  tracing: TracingOptions = {},
): Promise<Job<T> | null> {
  const span = tracerOf(tracing).startSpan(`${queue.name} publish`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'arbiter',
      'messaging.destination.name': queue.name,
      'messaging.operation.type': 'send',
    },
  });
  const ctx = trace.setSpan(context.active(), span);
  try {
    const meta = withTraceContext(options.meta, ctx);
    const job = await queue.enqueue(payload, meta === undefined ? options : { ...options, meta });
    if (job) span.setAttribute('messaging.message.id', job.id);
    else span.setAttribute('arbiter.skipped', true);
    return job;
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Opens a CONSUMER span (`<queue> process`) for every run a worker starts, as a child of the trace
 * context stored with the job, and closes it on the run's outcome event. A Worker's handlers run inside
 * that span's context (through Worker.wrapHandlers), so spans they start, and instrumented libraries they
 * call, become its children. Returns a detach function that also ends any span still open.
 */
export function attachTracing(worker: WorkerEventSource, options: TracingOptions = {}): () => void {
  const tracer = tracerOf(options);
  const open = new Map<string, Span>();
  const key = (queue: string, job: Job) => `${queue}\u0000${job.id}\u0000${job.attempts}`;
  const finish = (queue: string, job: Job, fn: (span: Span) => void) => {
    const k = key(queue, job);
    const span = open.get(k);
    if (!span) return;
    open.delete(k);
    fn(span);
    span.end();
  };
  const offs = [
    worker.on('job:started', ({ queue, job }) => {
      const parent = jobTraceContext(job);
      const span = tracer.startSpan(
        `${queue} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'arbiter',
            'messaging.destination.name': queue,
            'messaging.operation.type': 'process',
            'messaging.message.id': job.id,
            'arbiter.attempt': job.attempts,
            ...(job.groupKey === null ? {} : { 'arbiter.group_key': job.groupKey }),
          },
        },
        parent,
      );
      open.get(key(queue, job))?.end(); // a duplicate start must not leak the first span
      open.set(key(queue, job), span);
    }),
    worker.on('job:succeeded', ({ queue, job }) =>
      finish(queue, job, (s) => s.setStatus({ code: SpanStatusCode.OK })),
    ),
    worker.on('job:failed', ({ queue, job, error, timedOut }) => {
      const span = open.get(key(queue, job));
      span?.recordException(error instanceof Error ? error : String(error));
      span?.setAttribute('arbiter.timed_out', timedOut);
      span?.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }),
    worker.on('job:retried', ({ queue, job, delayMs }) =>
      finish(queue, job, (s) => s.setAttributes({ 'arbiter.outcome': 'retry', 'arbiter.delay_ms': delayMs })),
    ),
    worker.on('job:snoozed', ({ queue, job, delayMs }) =>
      finish(queue, job, (s) =>
        s.setAttributes({ 'arbiter.outcome': 'snooze', 'arbiter.delay_ms': delayMs }),
      ),
    ),
    worker.on('job:dead', ({ queue, job }) =>
      finish(queue, job, (s) => s.setAttribute('arbiter.outcome', 'dead')),
    ),
    worker.on('job:lease-lost', ({ queue, job, status }) =>
      finish(queue, job, (s) =>
        s.setAttributes({ 'arbiter.outcome': 'lease-lost', 'arbiter.lease_status': status }),
      ),
    ),
    worker.on('job:released', ({ queue, job }) =>
      finish(queue, job, (s) => s.setAttribute('arbiter.outcome', 'released')),
    ),
  ];
  // Single-job runs execute inside their span's context; a batch has one span per job and keeps the
  // caller's context.
  const unwrap = worker.wrapHandlers?.((call, next) => {
    const span = call.jobs.length === 1 ? open.get(key(call.queue, call.jobs[0]!)) : undefined;
    return span ? context.with(trace.setSpan(context.active(), span), next) : next();
  });
  return () => {
    offs.forEach((off) => off());
    unwrap?.();
    for (const span of open.values()) span.end();
    open.clear();
  };
}
