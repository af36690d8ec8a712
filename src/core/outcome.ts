import { backoffDelay, type BackoffOptions } from './backoff.js';

const OUTCOME = Symbol.for('arbiter.outcome');

/**
 * What a handler asks for. Returning normally means `done`; the helpers below build the others.
 * - `done`     finished: deleted (a child's `result` is stored for its parent's rollup), or kept as
 *              processed when the queue keeps history
 * - `keep`     finished and kept as processed (moved to the history table with its finish time and result)
 * - `retry`    run again after `delayMs` or at `at`, spending the attempt (dead-lettered when none are left)
 * - `remove`   finished without a result: the job is removed as if acked
 * - `fail`     permanent failure: straight to the dead-letter table, whatever attempts remain
 * - `snooze`   run again after `delayMs` without spending an attempt
 */
export type Outcome =
  | {
      readonly [OUTCOME]: true;
      readonly kind: 'done' | 'keep';
      readonly hasResult: boolean;
      readonly result?: unknown;
    }
  | {
      readonly [OUTCOME]: true;
      readonly kind: 'retry';
      readonly delayMs?: number;
      readonly at?: Date;
      readonly error?: string;
    }
  | { readonly [OUTCOME]: true; readonly kind: 'remove' }
  | { readonly [OUTCOME]: true; readonly kind: 'fail'; readonly error: string }
  | { readonly [OUTCOME]: true; readonly kind: 'snooze'; readonly delayMs: number };

/** The commonest outcome, shared: a handler that returns nothing. Outcomes are never modified. */
const DONE: Outcome = Object.freeze({ [OUTCOME]: true, kind: 'done', hasResult: false } as const);

export const outcomes = {
  done(result?: unknown): Outcome {
    return result === undefined ? DONE : { [OUTCOME]: true, kind: 'done', hasResult: true, result };
  },
  keep(result?: unknown): Outcome {
    return result === undefined
      ? { [OUTCOME]: true, kind: 'keep', hasResult: false }
      : { [OUTCOME]: true, kind: 'keep', hasResult: true, result };
  },
  retryAfter(delayMs: number, error?: string): Outcome {
    return {
      [OUTCOME]: true,
      kind: 'retry',
      delayMs: clampDelay(delayMs),
      ...(error === undefined ? {} : { error }),
    };
  },
  retryAt(at: Date, error?: string): Outcome {
    return { [OUTCOME]: true, kind: 'retry', at, ...(error === undefined ? {} : { error }) };
  },
  remove(): Outcome {
    return { [OUTCOME]: true, kind: 'remove' };
  },
  fail(error: unknown): Outcome {
    return { [OUTCOME]: true, kind: 'fail', error: describeError(error) };
  },
  snooze(delayMs: number): Outcome {
    return { [OUTCOME]: true, kind: 'snooze', delayMs: clampDelay(delayMs) };
  },
} as const;

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OUTCOME] === true;
}

function clampDelay(ms: number): number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0;
}

/** A handler's return value as an outcome: an explicit outcome, or done with the value as its result. */
export function outcomeFromReturn(value: unknown): Outcome {
  return isOutcome(value) ? value : outcomes.done(value);
}

/** The writes the completer performs. `dead` goes to the dead-letter table. */
export type Action =
  | { type: 'ack'; result?: unknown; hasResult: boolean; keep: boolean }
  | { type: 'retry'; delayMs: number; error: string }
  | { type: 'snooze'; delayMs: number }
  | { type: 'dead'; error: string };

export interface AttemptInfo {
  attempts: number;
  maxAttempts: number;
}

/** Plain acks, shared (actions are never modified): one per job adds up at tens of thousands a second. */
const ACK: Action = Object.freeze({ type: 'ack', hasResult: false, keep: false });
const ACK_KEEP: Action = Object.freeze({ type: 'ack', hasResult: false, keep: true });

/**
 * Turns an outcome into a write. A retry with no attempts left becomes a dead letter. `keepProcessed`
 * (the queue keeps history) turns a plain `done` into `keep`; `remove` never keeps.
 */
export function actionFor(outcome: Outcome, job: AttemptInfo, now: number, keepProcessed = false): Action {
  switch (outcome.kind) {
    case 'done':
      if (!outcome.hasResult) return keepProcessed ? ACK_KEEP : ACK;
      return { type: 'ack', hasResult: true, result: outcome.result, keep: keepProcessed };
    case 'keep':
      return { type: 'ack', hasResult: outcome.hasResult, result: outcome.result, keep: true };
    case 'remove':
      return { type: 'ack', hasResult: false, keep: false };
    case 'fail':
      return { type: 'dead', error: outcome.error };
    case 'snooze':
      return { type: 'snooze', delayMs: outcome.delayMs };
    case 'retry': {
      const error = outcome.error ?? 'retry requested by handler';
      if (job.attempts >= job.maxAttempts) return { type: 'dead', error: `attempts exhausted: ${error}` };
      const delayMs = outcome.at ? Math.max(0, outcome.at.getTime() - now) : (outcome.delayMs ?? 0);
      return { type: 'retry', delayMs, error };
    }
  }
}

/**
 * The default mapping of an exception: retry with backoff while attempts remain,
 * then dead-letter. `attempts` is the attempt that just failed (1-based), so it numbers the retry too.
 */
export function defaultErrorOutcome(error: unknown, job: AttemptInfo, backoff: BackoffOptions): Outcome {
  const message = describeError(error);
  if (job.attempts >= job.maxAttempts)
    return outcomes.fail(`attempts exhausted (${job.attempts}): ${message}`);
  return outcomes.retryAfter(backoffDelay(backoff, job.attempts, error), message);
}

export const MAX_ERROR_CHARS = 64 * 1024;

/**
 * Any thrown value as a bounded, storable string: null/undefined/strings/numbers, Errors with their
 * cause chain, objects (circular ones included). Never throws; at most MAX_ERROR_CHARS characters.
 */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = describe(error, 0);
  } catch {
    text = 'unprintable error';
  }
  text = text.replaceAll('\u0000', '');
  return text.length > MAX_ERROR_CHARS ? text.slice(0, MAX_ERROR_CHARS - 1) + '…' : text;
}

function describe(error: unknown, depth: number): string {
  if (error instanceof Error) {
    const head = `${error.name}: ${clip(error.message)}`;
    const cause = (error as { cause?: unknown }).cause;
    return cause !== undefined && depth < 5 ? `${head}\n  caused by ${describe(cause, depth + 1)}` : head;
  }
  if (typeof error === 'string') return clip(error);
  if (error === null || error === undefined || typeof error !== 'object') return String(error);
  const seen = new WeakSet<object>();
  const json = JSON.stringify(error, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
  return clip(json ?? String(error));
}

function clip(s: string): string {
  return s.length > MAX_ERROR_CHARS ? s.slice(0, MAX_ERROR_CHARS) : s;
}
