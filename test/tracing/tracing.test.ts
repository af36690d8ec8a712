import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { attachTracing, tracedEnqueue, TRACE_META_KEY } from '../../src/tracing/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';

const db = useTestDb();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
afterEach(async () => {
  await stopAll();
  exporter.reset();
});

describe('without an OpenTelemetry SDK', () => {
  it('tracedEnqueue is a plain enqueue: no span, no trace context stored', async () => {
    const q = await db.arbiter.createQueue('t_noop');
    const job = (await tracedEnqueue(q, { a: 1 }, { meta: { mine: true } }))!;
    expect(job.meta).toEqual({ mine: true });
    expect((await q.jobs.get(job.id))!.meta).toEqual({ mine: true });
  });
});

describe('with an SDK registered', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('links the processing span to the enqueue span through the job', async () => {
    const q = await db.arbiter.createQueue<{ fail: boolean }>('t_traced');
    const w = await startWorker(db.arbiter, {
      queues: {
        t_traced: {
          handler: async (job: Job<{ fail: boolean }>) => {
            if (job.payload.fail) throw new Error('handler broke');
          },
          backoff: { type: 'linear', delayMs: 60_000, constant: true },
        },
      },
    });
    const detach = attachTracing(w);
    const ok = (await tracedEnqueue(q, { fail: false }, { meta: { mine: 1 } }))!;
    const bad = (await tracedEnqueue(q, { fail: true }))!;
    expect(ok.meta).toMatchObject({ mine: 1, [TRACE_META_KEY]: { traceparent: expect.any(String) } });
    await waitFor(
      () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length === 2,
      'process spans',
    );
    detach();
    const spans = exporter.getFinishedSpans();
    for (const job of [ok, bad]) {
      const publish = spans.find(
        (s) => s.kind === SpanKind.PRODUCER && s.attributes['messaging.message.id'] === job.id,
      )!;
      const process = spans.find(
        (s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === job.id,
      )!;
      expect(publish.name).toBe('t_traced publish');
      expect(process.name).toBe('t_traced process');
      expect(process.spanContext().traceId).toBe(publish.spanContext().traceId);
      expect(process.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    }
    const failed = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === bad.id,
    )!;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['arbiter.outcome']).toBe('retry');
    expect(failed.events.some((e) => e.name === 'exception')).toBe(true);
    const good = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === ok.id,
    )!;
    expect(good.status.code).toBe(SpanStatusCode.OK);
  });

  it('runs handlers inside the process span: their own spans are its children', async () => {
    const q = await db.arbiter.createQueue<{ n: number }>('t_inner');
    const activeDuringHandler: (string | undefined)[] = [];
    const w = await startWorker(db.arbiter, {
      queues: {
        t_inner: {
          handler: async (job: Job<{ n: number }>) => {
            activeDuringHandler.push(trace.getActiveSpan()?.spanContext().spanId);
            await trace.getTracer('handler').startActiveSpan(`inner ${job.payload.n}`, async (span) => {
              await new Promise((r) => setTimeout(r, 5));
              span.end();
            });
          },
        },
      },
    });
    const detach = attachTracing(w);
    const job = (await tracedEnqueue(q, { n: 1 }))!;
    await waitFor(
      () => exporter.getFinishedSpans().some((s) => s.name === 't_inner process'),
      'process span',
    );
    const spans = exporter.getFinishedSpans();
    const process = spans.find((s) => s.name === 't_inner process')!;
    const inner = spans.find((s) => s.name === 'inner 1')!;
    expect(process.attributes['messaging.message.id']).toBe(job.id);
    expect(inner.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(process.spanContext().traceId);
    expect(activeDuringHandler).toEqual([process.spanContext().spanId]);
    // Detached: handlers no longer run inside a process span.
    detach();
    await q.enqueue({ n: 2 });
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === 'inner 2'), 'inner span 2');
    expect(activeDuringHandler[1]).toBeUndefined();
    expect(exporter.getFinishedSpans().find((s) => s.name === 'inner 2')!.parentSpanContext).toBeUndefined();
  });

  it('records a failed enqueue on its span and rethrows', async () => {
    const q = db.arbiter.queue('t_never_created');
    await expect(tracedEnqueue(q, { x: 1 })).rejects.toMatchObject({ code: 'QUEUE_NOT_FOUND' });
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });
});
