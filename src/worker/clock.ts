/** A pending timer of a Clock: opaque, only good for passing back to `clearTimeout`. */
export type TimerHandle = object;

/**
 * Time as the worker's loops see it: a monotonic reading and one-shot timers. The fetcher, the completer,
 * the lease heartbeat and the backoff timer take one, so their rules can be tested against a clock that
 * only moves when a test says so; in production it is `realClock`.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (immune to host clock changes); only differences mean anything. */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired yet; a handle already fired or undefined is ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** performance.now() and the host's timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

/**
 * Calls `fn` every `ms` on `clock` until the returned function is called (setInterval on a Clock): the next
 * call is set before `fn` runs, so the period does not stretch with `fn`'s own duration.
 */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle | undefined;
  let cancelled = false;
  const arm = () => {
    handle = clock.setTimeout(() => {
      if (cancelled) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return () => {
    cancelled = true;
    clock.clearTimeout(handle);
  };
}
