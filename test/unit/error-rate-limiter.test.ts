import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorRateLimiter, WorkerEventEmitter, type WorkerEvents } from '../../src/worker/events.js';

type ErrorEvent = WorkerEvents['error'];

// Fake timers (performance.now included): time moves only when a test advances it.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('error rate limiter', () => {
  it('emits the first error of a context at once, then one summary per interval with the count left out', async () => {
    const out: ErrorEvent[] = [];
    const limiter = new ErrorRateLimiter(200, (e) => out.push(e));
    for (let i = 0; i < 50; i++) limiter.report({ error: new Error(`e${i}`), context: 'a' });
    expect(out).toHaveLength(1);
    expect((out[0]!.error as Error).message).toBe('e0');
    expect(out[0]!.suppressed).toBeUndefined();
    vi.advanceTimersByTime(199);
    expect(out).toHaveLength(1);
    vi.advanceTimersByTime(101);
    expect(out).toHaveLength(2);
    expect((out[1]!.error as Error).message).toBe('e49'); // the latest
    expect(out[1]!.suppressed).toBe(48); // e1…e48 left out
    // Nothing lost: events + Σ suppressed = errors.
    expect(out.reduce((n, e) => n + 1 + (e.suppressed ?? 0), 0)).toBe(50);
  });

  it('limits each context on its own', () => {
    const out: ErrorEvent[] = [];
    const limiter = new ErrorRateLimiter(10_000, (e) => out.push(e));
    for (const context of ['a', 'b', 'a', 'c', 'b']) limiter.report({ error: 'x', context });
    expect(out.map((e) => e.context)).toEqual(['a', 'b', 'c']);
    limiter.flush();
    expect(out.map((e) => `${e.context}:${e.suppressed ?? 0}`)).toEqual(['a:0', 'b:0', 'c:0', 'a:0', 'b:0']);
  });

  it('a context that stays quiet for an interval starts over: its next error is emitted at once', async () => {
    const out: ErrorEvent[] = [];
    const limiter = new ErrorRateLimiter(50, (e) => out.push(e));
    limiter.report({ error: 1, context: 'a' });
    vi.advanceTimersByTime(120);
    limiter.report({ error: 2, context: 'a' });
    expect(out.map((e) => e.error)).toEqual([1, 2]);
    limiter.flush();
  });

  it('a steady stream yields one event per interval', async () => {
    const out: ErrorEvent[] = [];
    const limiter = new ErrorRateLimiter(100, (e) => out.push(e));
    let sent = 0;
    for (let ms = 0; ms < 550; ms += 5) {
      limiter.report({ error: sent++, context: 'a' });
      vi.advanceTimersByTime(5);
    }
    limiter.flush();
    // The first at once, one at each of the five interval ends, and the flush's.
    expect(out.length).toBeGreaterThanOrEqual(6);
    expect(out.length).toBeLessThanOrEqual(7);
    expect(out.reduce((n, e) => n + 1 + (e.suppressed ?? 0), 0)).toBe(sent);
  });

  it('the worker event emitter applies it to error events only', () => {
    const emitter = new WorkerEventEmitter();
    emitter.limitErrors(10_000);
    const errors: ErrorEvent[] = [];
    let skews = 0;
    emitter.on('error', (e) => errors.push(e));
    emitter.on('worker:clock-skew', () => skews++);
    for (let i = 0; i < 5; i++) {
      emitter.emit('error', { error: i, context: 'x' });
      emitter.emit('worker:clock-skew', { workerId: 'w', skewMs: 1 });
    }
    expect(errors).toHaveLength(1);
    expect(skews).toBe(5);
    emitter.flushErrors();
    expect(errors.map((e) => [e.error, e.suppressed])).toEqual([
      [0, undefined],
      [4, 3],
    ]);
    emitter.limitErrors(0); // off: every error
    for (let i = 0; i < 3; i++) emitter.emit('error', { error: i, context: 'x' });
    expect(errors).toHaveLength(5);
  });
});
