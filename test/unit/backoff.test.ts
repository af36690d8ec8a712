import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  checkBackoff,
  DEFAULT_BACKOFF,
  DEFAULT_BACKOFF_MAX_MS,
} from '../../src/core/backoff.js';
import { ValidationError } from '../../src/errors.js';

describe('backoff schedule', () => {
  it('exponential doubles from the base and is capped at 24 h by default', () => {
    const schedule = [1, 2, 3, 4, 5].map((n) => backoffDelay(DEFAULT_BACKOFF, n));
    expect(schedule).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(backoffDelay(DEFAULT_BACKOFF, 17)).toBe(65_536_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 18)).toBe(DEFAULT_BACKOFF_MAX_MS);
    expect(backoffDelay(DEFAULT_BACKOFF, 5_000)).toBe(24 * 3600 * 1000);
    expect(backoffDelay({ type: 'exponential', baseMs: 100, factor: 3, maxMs: 1_000 }, 3)).toBe(900);
    expect(backoffDelay({ type: 'exponential', baseMs: 100, factor: 3, maxMs: 1_000 }, 4)).toBe(1_000);
  });

  it('linear grows by the step; constant stays put', () => {
    expect([1, 2, 3].map((n) => backoffDelay({ type: 'linear', delayMs: 500 }, n))).toEqual([
      500, 1_000, 1_500,
    ]);
    expect([1, 2, 3].map((n) => backoffDelay({ type: 'linear', delayMs: 500, constant: true }, n))).toEqual([
      500, 500, 500,
    ]);
    expect(backoffDelay({ type: 'linear', delayMs: 500, maxMs: 700 }, 3)).toBe(700);
  });

  it('custom functions get the attempt and the error; bad values become 0', () => {
    const seen: unknown[] = [];
    const fn = (attempt: number, err: unknown) => {
      seen.push(err);
      return attempt * 7;
    };
    expect(backoffDelay(fn, 3, 'e')).toBe(21);
    expect(seen).toEqual(['e']);
    expect(backoffDelay(() => NaN, 1)).toBe(0);
    expect(backoffDelay(() => -5, 1)).toBe(0);
  });

  it('jitter subtracts up to the fraction, with an injected random source', () => {
    const b = { type: 'exponential' as const, baseMs: 1_000, jitter: 0.5 };
    expect(backoffDelay(b, 1, undefined, () => 0)).toBe(1_000);
    expect(backoffDelay(b, 1, undefined, () => 1)).toBe(500);
    expect(backoffDelay(b, 2, undefined, () => 0.5)).toBe(1_500);
  });

  it('rejects malformed options', () => {
    expect(() => checkBackoff({ type: 'fibonacci' }, 'b')).toThrow(ValidationError);
    expect(() => checkBackoff({ type: 'linear', delayMs: -1 }, 'b')).toThrow(/delayMs/);
    expect(() => checkBackoff({ type: 'exponential', jitter: 2 }, 'b')).toThrow(/jitter/);
    expect(() => checkBackoff({ type: 'exponential', typo: 1 }, 'b')).toThrow(/typo/);
    expect(checkBackoff({ type: 'exponential', baseMs: 5 }, 'b')).toEqual({ type: 'exponential', baseMs: 5 });
  });
});
