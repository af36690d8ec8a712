import { describe, expect, it } from 'vitest';
import {
  actionFor,
  defaultErrorOutcome,
  describeError,
  isOutcome,
  MAX_ERROR_CHARS,
  outcomeFromReturn,
  outcomes,
} from '../../src/core/outcome.js';
import { cronDueTick, cronPrevTick, cronNextTick, checkCron } from '../../src/core/cron.js';

const job = (attempts: number, maxAttempts = 3) => ({ attempts, maxAttempts });

describe('outcome decisions', () => {
  it('a plain return value is done with that value as the result', () => {
    expect(outcomeFromReturn(undefined)).toMatchObject({ kind: 'done', hasResult: false });
    expect(outcomeFromReturn({ total: 3 })).toMatchObject({
      kind: 'done',
      hasResult: true,
      result: { total: 3 },
    });
    expect(isOutcome({ kind: 'retry' })).toBe(false);
    expect(outcomeFromReturn({ kind: 'fail', error: 'x' })).toMatchObject({ kind: 'done' });
  });

  it('maps explicit outcomes to writes', () => {
    expect(actionFor(outcomes.remove(), job(1), 0)).toEqual({ type: 'ack', hasResult: false, keep: false });
    expect(actionFor(outcomes.remove(), job(1), 0, true)).toEqual({
      type: 'ack',
      hasResult: false,
      keep: false,
    });
    expect(actionFor(outcomes.done(7), job(1), 0)).toEqual({
      type: 'ack',
      hasResult: true,
      result: 7,
      keep: false,
    });
    expect(actionFor(outcomes.done(), job(1), 0, true)).toMatchObject({
      type: 'ack',
      hasResult: false,
      keep: true,
    });
    expect(actionFor(outcomes.keep({ a: 1 }), job(1), 0)).toEqual({
      type: 'ack',
      hasResult: true,
      result: { a: 1 },
      keep: true,
    });
    expect(actionFor(outcomes.fail('nope'), job(1), 0)).toEqual({ type: 'dead', error: 'nope' });
    expect(actionFor(outcomes.snooze(250), job(3), 0)).toEqual({ type: 'snooze', delayMs: 250 });
    expect(actionFor(outcomes.retryAfter(100, 'later'), job(1), 0)).toEqual({
      type: 'retry',
      delayMs: 100,
      error: 'later',
    });
    expect(actionFor(outcomes.retryAt(new Date(5_000)), job(1), 1_000)).toMatchObject({
      type: 'retry',
      delayMs: 4_000,
    });
    expect(actionFor(outcomes.retryAt(new Date(0)), job(1), 1_000)).toMatchObject({
      type: 'retry',
      delayMs: 0,
    });
  });

  it('a retry with no attempts left becomes a dead letter', () => {
    expect(actionFor(outcomes.retryAfter(10, 'again'), job(3), 0)).toEqual({
      type: 'dead',
      error: 'attempts exhausted: again',
    });
  });

  it('the default error policy retries with backoff, then dead-letters', () => {
    const b = { type: 'linear' as const, delayMs: 10 };
    expect(defaultErrorOutcome(new Error('x'), job(2), b)).toMatchObject({
      kind: 'retry',
      delayMs: 20,
      error: 'Error: x',
    });
    expect(defaultErrorOutcome(new Error('x'), job(3), b)).toMatchObject({
      kind: 'fail',
      error: 'attempts exhausted (3): Error: x',
    });
  });

  it('describes any thrown value, bounded and never throwing', () => {
    expect(describeError(null)).toBe('null');
    expect(describeError(undefined)).toBe('undefined');
    expect(describeError(42)).toBe('42');
    expect(describeError('s')).toBe('s');
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(describeError(circular)).toBe('{"a":1,"self":"[circular]"}');
    expect(describeError(new Error('top', { cause: new TypeError('inner') }))).toBe(
      'Error: top\n  caused by TypeError: inner',
    );
    expect(describeError(new Error('x'.repeat(10_000_000))).length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(describeError({ big: 10n })).toBe('{"big":"10n"}');
    expect(describeError('a\u0000b')).toBe('ab');
  });
});

describe('cron ticks', () => {
  it('finds the latest tick at or before now, in a time zone', () => {
    const now = new Date('2026-03-10T12:34:56.500Z');
    expect(cronPrevTick('*/15 * * * *', 'UTC', now)?.toISOString()).toBe('2026-03-10T12:30:00.000Z');
    expect(cronPrevTick('0 9 * * *', 'Europe/Paris', now)?.toISOString()).toBe('2026-03-10T08:00:00.000Z');
    expect(cronNextTick('0 9 * * *', 'Europe/Paris', now)?.toISOString()).toBe('2026-03-11T08:00:00.000Z');
    // A tick exactly at now counts as due.
    expect(cronPrevTick('30 12 * * *', 'UTC', new Date('2026-03-10T12:30:00Z'))?.toISOString()).toBe(
      '2026-03-10T12:30:00.000Z',
    );
    expect(cronPrevTick('* * * * * *', 'UTC', now)?.toISOString()).toBe('2026-03-10T12:34:56.000Z');
  });

  it('rejects bad expressions and zones', () => {
    expect(() => checkCron('not a cron', 'UTC', 'c')).toThrow(/pattern/);
    expect(() => checkCron('* * * * *', 'Mars/Olympus', 'c')).toThrow(/tz/);
    expect(() => checkCron('* * * * *', 'America/New_York', 'c')).not.toThrow();
  });
});

describe('cron DST policy (America/New_York)', () => {
  const tz = 'America/New_York';
  /** Simulates a worker checking every 10 minutes from `start` to `end`; returns the ticks fired (local time). */
  const simulate = (pattern: string, start: string, end: string) => {
    const fired: string[] = [];
    let last = new Date(start);
    for (let t = Date.parse(start); t < Date.parse(end); t += 600_000) {
      const tick = cronDueTick(pattern, tz, last, new Date(t));
      if (tick) {
        fired.push(tick.toLocaleString('en-US', { timeZone: tz, hour12: false }));
        last = tick;
      }
    }
    return fired;
  };

  it('spring-forward: a skipped local time fires once, at the shifted instant', () => {
    expect(simulate('30 2 * * *', '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '3/7/2026, 02:30:00',
      '3/8/2026, 03:30:00',
      '3/9/2026, 02:30:00',
    ]);
  });

  it('fall-back: a repeated local time fires once', () => {
    expect(simulate('30 1 * * *', '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).toEqual([
      '10/31/2026, 01:30:00',
      '11/1/2026, 01:30:00',
      '11/2/2026, 01:30:00',
    ]);
  });

  it('after a long outage only the latest due tick fires (no replay), quickly', () => {
    const due = cronDueTick(
      '* * * * * *',
      'UTC',
      new Date('2026-01-01T00:00:00Z'),
      new Date('2026-01-02T00:00:00.5Z'),
    );
    expect(due?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(
      cronDueTick('0 9 * * *', 'UTC', new Date('2026-01-01T09:00:00Z'), new Date('2026-01-01T12:00:00Z')),
    ).toBeNull();
  });
});
