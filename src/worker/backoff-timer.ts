import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';

/**
 * Fraction of each wait taken off at random, so that workers that lost the database together do not all
 * come back at the same instant. Subtracted (as in job retries), so a wait never exceeds its cap.
 */
const JITTER = 0.25;

/**
 * The pace of a worker loop whose database calls keep failing (an outage, a restart, a failover): after
 * each consecutive failure it waits twice as long as after the previous one, from `baseMs` up to `maxMs`
 * (the exponential schedule of job retries, core/backoff), then calls `retry`. A success starts the
 * schedule over. An outage thus costs a number of attempts that grows with the logarithm of its length,
 * and recovery is noticed at most one wait (`maxMs`) late, sooner when the owner ends the wait early.
 */
export class BackoffTimer {
  private failures = 0;
  private timer: TimerHandle | undefined;
  private readonly policy: BackoffOptions;

  constructor(
    baseMs: number,
    maxMs: number,
    private readonly retry: () => void,
    private readonly clock: Clock = realClock,
  ) {
    this.policy = { type: 'exponential', baseMs, factor: 2, maxMs: Math.max(baseMs, maxMs), jitter: JITTER };
  }

  /** True while waiting before the next attempt. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** Records a failure and starts the wait before the next attempt; returns its length (ms). */
  failed(): number {
    this.failures++;
    const ms = backoffDelay(this.policy, this.failures);
    this.cancel();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.retry();
    }, ms);
    return ms;
  }

  /** Records a success: the next failure waits `baseMs` again. */
  succeeded(): void {
    this.failures = 0;
  }

  /** Ends the wait without calling `retry` (the owner retries at once, or is stopping). */
  cancel(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
