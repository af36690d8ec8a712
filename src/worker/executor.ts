import { backoffDelay } from '../core/backoff.js';
import {
  actionFor,
  defaultErrorOutcome,
  describeError,
  outcomeFromReturn,
  outcomes,
  type Action,
  type Outcome,
} from '../core/outcome.js';
import { encodePayload } from '../core/payload.js';
import { runSchema } from '../core/standard-schema.js';
import type { ChildOutcome, Job, JobId } from '../types.js';
import type { WorkerEventEmitter } from './events.js';
import { jobTimeout, type BatchResult, type JobContext, type ResolvedQueue } from './options.js';

/** Why a running job's signal was aborted. */
export type AbortReason = 'timeout' | 'lease-lost' | 'shutdown';

export class JobAbortError extends Error {
  constructor(
    readonly reason: AbortReason,
    message: string,
  ) {
    super(message);
    this.name = reason === 'timeout' ? 'TimeoutError' : 'AbortError';
  }
}

/** What the runner does after a handler: write an action, or leave the job alone (lease lost / shutdown). */
export type RunOutcome =
  { kind: 'write'; action: Action; timedOut: boolean } | { kind: 'abandon'; reason: AbortReason };

export interface RunEnv {
  events: WorkerEventEmitter;
  workerId: string;
  /** Extends the job's lease; false when lost. */
  extendLease(job: Job, leaseMs: number): Promise<boolean>;
  /** Largest result a child may store for its parent (the Arbiter's maxPayloadBytes). */
  maxResultBytes: number;
  /** A rollup parent's merged child outcomes. */
  childOutcomes(job: Job): Promise<Map<JobId, ChildOutcome>>;
}

const helpers = {
  done: outcomes.done,
  keep: outcomes.keep,
  retryAfter: outcomes.retryAfter,
  retryAt: outcomes.retryAt,
  remove: outcomes.remove,
  fail: outcomes.fail,
  snooze: outcomes.snooze,
};

/** Attempt budget: the job's own, lowered by the queue's maxAttempts when set. */
function budget(q: ResolvedQueue, job: Job): { attempts: number; maxAttempts: number } {
  return { attempts: job.attempts, maxAttempts: Math.min(job.maxAttempts, q.maxAttempts ?? Infinity) };
}

/** Validates the payload against the queue's schema: a poison payload becomes a dead letter, never a crash. */
export async function validatePayload(
  q: ResolvedQueue,
  job: Job,
): Promise<{ ok: true } | { ok: false; error: string }> {
  if (!q.schema) return { ok: true };
  const checked = await runSchema(q.schema, job.payload);
  if (!checked.ok) return { ok: false, error: `payload failed schema validation: ${checked.message}` };
  job.payload = checked.value;
  return { ok: true };
}

/**
 * Races the handler against its abort signal, so a handler that ignores the signal cannot hold the
 * worker past its timeout or a lost lease. Resolves with the handler's value or rejects with its error;
 * resolves to `aborted` when the signal fired first.
 */
async function raceAbort<R>(
  run: () => R | Promise<R>,
  signal: AbortSignal,
): Promise<{ aborted: false; value: R } | { aborted: true; reason: AbortReason }> {
  if (signal.aborted) return { aborted: true, reason: reasonOf(signal) };
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<{ aborted: true; reason: AbortReason }>((resolve) => {
    onAbort = () => resolve({ aborted: true, reason: reasonOf(signal) });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(run)
        .then((value) => ({ aborted: false as const, value })),
      aborted,
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function reasonOf(signal: AbortSignal): AbortReason {
  return signal.reason instanceof JobAbortError ? signal.reason.reason : 'shutdown';
}

/** Arms the timeout for one run; returns a disarm function. */
function armTimeout(controller: AbortController, timeoutMs: number): () => void {
  if (timeoutMs <= 0) return () => undefined;
  const timer = setTimeout(
    () => controller.abort(new JobAbortError('timeout', `job timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  return () => clearTimeout(timer);
}

async function mapError(q: ResolvedQueue, job: Job, error: unknown, timedOut: boolean): Promise<Outcome> {
  const b = budget(q, job);
  const backoffMs = backoffDelay(q.backoff, b.attempts, error);
  if (q.onError) {
    try {
      const chosen = await q.onError(error, job, { timedOut, backoffMs });
      if (chosen !== undefined) return chosen;
    } catch (hookError) {
      return defaultErrorOutcome(hookError, b, q.backoff);
    }
  }
  return defaultErrorOutcome(error, b, q.backoff);
}

/** Runs one job's handler and decides what to write. */
export async function runJob(
  q: ResolvedQueue,
  job: Job,
  controller: AbortController,
  env: RunEnv,
): Promise<RunOutcome> {
  const valid = await validatePayload(q, job);
  if (!valid.ok) return { kind: 'write', action: { type: 'dead', error: valid.error }, timedOut: false };
  const timeoutMs = jobTimeout(q, job);
  let children: Map<JobId, ChildOutcome> = new Map();
  if (job.isRollup) children = await env.childOutcomes(job);
  const ctx: JobContext = {
    signal: controller.signal,
    workerId: env.workerId,
    children,
    extendLease: (leaseMs = q.leaseMs) => env.extendLease(job, leaseMs),
    ...helpers,
  };
  env.events.emit('job:started', { queue: q.name, job });
  const disarm = armTimeout(controller, timeoutMs);
  let outcome: Outcome;
  let timedOut = false;
  try {
    const r = await raceAbort(() => q.handler!(job, ctx), controller.signal);
    if (r.aborted) {
      if (r.reason !== 'timeout') return { kind: 'abandon', reason: r.reason };
      timedOut = true;
      const error = controller.signal.reason as JobAbortError;
      env.events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
      env.events.emit('job:failed', { queue: q.name, job, error, timedOut });
      outcome = await mapError(q, job, error, true);
    } else {
      outcome = await checkResult(q, job, outcomeFromReturn(r.value), env);
    }
  } catch (error) {
    if (controller.signal.aborted && reasonOf(controller.signal) !== 'timeout') {
      return { kind: 'abandon', reason: reasonOf(controller.signal) };
    }
    timedOut = controller.signal.aborted;
    // After a timeout, the handler's own error is usually an AbortError: record the timeout itself.
    const failure = timedOut ? (controller.signal.reason as unknown) : error;
    if (timedOut) env.events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
    env.events.emit('job:failed', { queue: q.name, job, error: failure, timedOut });
    outcome = await mapError(q, job, failure, timedOut);
  } finally {
    disarm();
  }
  return { kind: 'write', action: actionFor(outcome, budget(q, job), Date.now(), q.keepProcessed), timedOut };
}

/** Runs a batch handler; returns one decision per job (same order as `jobs`). */
export async function runBatch(
  q: ResolvedQueue,
  jobs: Job[],
  controller: AbortController,
  env: RunEnv,
): Promise<RunOutcome[]> {
  const decisions: (RunOutcome | undefined)[] = new Array<RunOutcome | undefined>(jobs.length);
  const valid: Job[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const check = await validatePayload(q, jobs[i]!);
    if (check.ok) valid.push(jobs[i]!);
    else decisions[i] = { kind: 'write', action: { type: 'dead', error: check.error }, timedOut: false };
  }
  const timeoutMs = Math.max(0, ...valid.map((j) => jobTimeout(q, j)));
  const ctx = {
    signal: controller.signal,
    workerId: env.workerId,
    extendLease: async (leaseMs = q.leaseMs) => {
      const all = await Promise.all(valid.map((j) => env.extendLease(j, leaseMs)));
      return all.every(Boolean);
    },
    ...helpers,
  };
  for (const job of valid) env.events.emit('job:started', { queue: q.name, job });
  const disarm = armTimeout(controller, timeoutMs);
  let perJob: (Outcome | undefined)[] = [];
  let failure: { error: unknown; timedOut: boolean } | undefined;
  try {
    if (valid.length > 0) {
      const r = await raceAbort<BatchResult>(() => q.batchHandler!(valid, ctx), controller.signal);
      if (r.aborted) {
        if (r.reason !== 'timeout') return jobs.map(() => ({ kind: 'abandon', reason: r.reason }));
        failure = { error: controller.signal.reason, timedOut: true };
        for (const job of valid) env.events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
      } else {
        perJob = spreadBatchResult(r.value, valid);
      }
    }
  } catch (error) {
    if (controller.signal.aborted && reasonOf(controller.signal) !== 'timeout') {
      return jobs.map(() => ({ kind: 'abandon', reason: reasonOf(controller.signal) }));
    }
    failure = { error, timedOut: controller.signal.aborted };
  } finally {
    disarm();
  }
  let v = 0;
  for (let i = 0; i < jobs.length; i++) {
    if (decisions[i]) continue;
    const job = jobs[i]!;
    let outcome: Outcome;
    if (failure) {
      env.events.emit('job:failed', { queue: q.name, job, error: failure.error, timedOut: failure.timedOut });
      outcome = await mapError(q, job, failure.error, failure.timedOut);
    } else {
      outcome = await checkResult(q, job, perJob[v] ?? outcomes.done(), env);
    }
    v++;
    decisions[i] = {
      kind: 'write',
      action: actionFor(outcome, budget(q, job), Date.now(), q.keepProcessed),
      timedOut: failure?.timedOut ?? false,
    };
  }
  return decisions as RunOutcome[];
}

/** A returned outcome whose result will be stored but cannot be is a failure: reported, then mapped like one. */
async function checkResult(q: ResolvedQueue, job: Job, outcome: Outcome, env: RunEnv): Promise<Outcome> {
  const unstorable = storesResult(q, job, outcome) ? resultProblem(outcome, env.maxResultBytes) : null;
  if (!unstorable) return outcome;
  env.events.emit('job:failed', { queue: q.name, job, error: unstorable, timedOut: false });
  return mapError(q, job, unstorable, false);
}

/** Whether a returned result will be written: for a parent's rollup, or into the history table. */
function storesResult(q: ResolvedQueue, job: Job, outcome: Outcome): boolean {
  return job.parentId !== null || outcome.kind === 'keep' || (outcome.kind === 'done' && q.keepProcessed);
}

/** A stored result must be storable as JSON (within maxPayloadBytes); report why when it is not. */
function resultProblem(outcome: Outcome, maxBytes: number): Error | null {
  if ((outcome.kind !== 'done' && outcome.kind !== 'keep') || !outcome.hasResult) return null;
  try {
    encodePayload(outcome.result, maxBytes);
    return null;
  } catch (err) {
    return new Error(`handler result cannot be stored: ${describeError(err)}`);
  }
}

function spreadBatchResult(result: BatchResult, jobs: Job[]): (Outcome | undefined)[] {
  if (result === undefined || result === null) return [];
  if (result instanceof Map) return jobs.map((j) => result.get(j.id));
  if (Array.isArray(result)) {
    return (result as unknown[]).map((r) => (r === undefined ? undefined : outcomeFromReturn(r)));
  }
  throw new TypeError(
    `batch handler must return nothing, an array of outcomes or a Map (got ${describeError(result)})`,
  );
}
