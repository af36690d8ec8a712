import { backoffDelay } from '../core/backoff.js';
import { isTracked } from '../core/tracking.js';
import {
  actionFor,
  defaultErrorOutcome,
  describeError,
  outcomeFromReturn,
  outcomes,
  type Outcome,
} from '../core/outcome.js';
import { encodePayload } from '../core/payload.js';
import { runSchema } from '../core/standard-schema.js';
import type { StoreAction } from '../store/job-store.js';
import { AWAITED_META_KEY } from '../db/queries/steps.js';
import type { ChildOutcome, Job, JobId } from '../types.js';
import type { JobController } from './abort.js';
import { realClock, type Clock } from './clock.js';
import type { ProgressWrite } from '../db/queries/job-progress.js';
import { JobReporter, type ReporterEnv, type ReportSink } from './progress.js';
import { jobTimeout, type BatchResult, type JobContext, type ResolvedQueue } from './queue-options.js';
import type { JobSteps } from './steps.js';
import { jobSteps, type StepEnv } from './step-host.js';
import { ValidationError } from '../errors.js';

/** Why a running job's signal was aborted (`cancelled`: an operator cancelled the job while it ran). */
export type AbortReason = 'timeout' | 'lease-lost' | 'shutdown' | 'cancelled' | 'parked';

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
  | {
      kind: 'write';
      action: StoreAction;
      timedOut: boolean;
      /** The job's last report, not yet written (null: none): the outcome's write carries it. */
      reported?: ProgressWrite | null | Promise<ProgressWrite | null>;
    }
  | { kind: 'abandon'; reason: AbortReason }
  /** The run parked the job (ctx.sleep / ctx.waitFor): already written; due again in `dueInMs` (null: on an event). */
  | { kind: 'parked'; dueInMs: number | null };

export interface RunEnv extends StepEnv {
  workerId: string;
  /** Extends the job's lease; false when lost. */
  extendLease(job: Job, leaseMs: number): Promise<boolean>;
  /** A rollup parent's merged child outcomes. */
  childOutcomes(job: Job): Promise<Map<JobId, ChildOutcome>>;
  /** Runs a handler call inside the worker's handler wrappers (tracing context and the like), if any. */
  wrap?: HandlerWrapper;
  /** Where `ctx.progress` / `setMeta` / `log` are written (fenced). Without one, reports only raise events. */
  report?: ReportSink;
  /** Takes back a report handed to `report` and not yet sent (see ReporterEnv.withdraw). */
  withdrawReport?: (job: Job, write: ProgressWrite) => boolean;
  /** Times the coalescing of reports. Default realClock. */
  clock?: Clock;
}

/** One handler call, as handler wrappers see it: the queue and its job (or the batch's jobs). */
export interface HandlerCall {
  queue: string;
  jobs: readonly Job[];
}

/**
 * Runs around every handler call: must call `next` exactly once and return (or await and return) its
 * result. Used to run handlers inside a tracing context; see Worker.wrapHandlers.
 */
export type HandlerWrapper = (call: HandlerCall, next: () => unknown) => unknown;

const helpers = {
  done: outcomes.done,
  keep: outcomes.keep,
  retryAfter: outcomes.retryAfter,
  retryAt: outcomes.retryAt,
  remove: outcomes.remove,
  fail: outcomes.fail,
  snooze: outcomes.snooze,
};

/**
 * A handler's context. The outcome helpers and `signal` live on the prototype, so a context costs one
 * small object per job; they read fine destructured (`{ done, signal }`), as the helpers use no `this`.
 */
class HandlerContext {
  /** Created on the first report: jobs that never report pay nothing. */
  reporter: JobReporter | undefined;

  constructor(
    private readonly controller: JobController,
    readonly workerId: string,
    readonly children: Map<JobId, ChildOutcome>,
    readonly extendLease: (leaseMs?: number) => Promise<boolean>,
    private readonly job: Job,
    private readonly env: RunEnv,
    private readonly queue: string,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private report(): JobReporter {
    return (this.reporter ??= new JobReporter(this.job, reporterEnv(this.env, this.queue)));
  }

  // Getters, so they read fine destructured too; the function is made only when a handler asks for it.
  get progress(): JobContext['progress'] {
    return (value) => this.report().setProgress(value);
  }

  get setMeta(): JobContext['setMeta'] {
    return (patch) => this.report().setMeta(patch);
  }

  get log(): JobContext['log'] {
    return (message) => this.report().log(message);
  }

  /** Created on the first step call: jobs that never use steps pay nothing. */
  steps: JobSteps | undefined;

  private durable(): JobSteps {
    return (this.steps ??= jobSteps(this.env, this.queue, this.job, this.controller, stepAbort));
  }

  get step(): JobContext['step'] {
    return (name, fn) => this.durable().step(name, fn);
  }

  get sleep(): JobContext['sleep'] {
    return (ms) => this.durable().sleep(ms);
  }

  get sleepUntil(): JobContext['sleepUntil'] {
    return (at) => this.durable().sleepUntil(at);
  }

  get waitFor(): JobContext['waitFor'] {
    return (event, options) => this.durable().waitFor(event, options);
  }

  get run(): JobContext['run'] {
    return (queue, payload, options) => this.durable().run(queue, payload, options);
  }

  // On the prototype (below); `declare` emits no per-instance field.
  declare readonly done: JobContext['done'];
  declare readonly keep: JobContext['keep'];
  declare readonly retryAfter: JobContext['retryAfter'];
  declare readonly retryAt: JobContext['retryAt'];
  declare readonly remove: JobContext['remove'];
  declare readonly fail: JobContext['fail'];
  declare readonly snooze: JobContext['snooze'];
}
Object.assign(HandlerContext.prototype, helpers);

const noSink: ReportSink = () => Promise.resolve(true);

/** One reporter environment per worker environment and queue, shared by the reporters of its jobs. */
const reporterEnvs = new WeakMap<RunEnv, Map<string, ReporterEnv>>();

function reporterEnv(env: RunEnv, queue: string): ReporterEnv {
  let byQueue = reporterEnvs.get(env);
  if (!byQueue) reporterEnvs.set(env, (byQueue = new Map()));
  let r = byQueue.get(queue);
  if (!r) {
    r = {
      sink: env.report ?? noSink,
      ...(env.withdrawReport && { withdraw: env.withdrawReport }),
      clock: env.clock ?? realClock,
      events: env.events,
      queue,
    };
    byQueue.set(queue, r);
  }
  return r;
}

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
 * Races the handler against its abort switch, so a handler that ignores the signal cannot hold the
 * worker past its timeout or a lost lease. Resolves with the handler's value or rejects with its error;
 * resolves to `aborted` when the switch was thrown first.
 */
function raceAbort<R>(
  run: () => R | Promise<R>,
  controller: JobController,
): Promise<{ aborted: false; value: R } | { aborted: true; reason: AbortReason }> {
  return new Promise((resolve, reject) => {
    if (controller.aborted) return resolve({ aborted: true, reason: reasonOf(controller) });
    const off = controller.onAbort(() => resolve({ aborted: true, reason: reasonOf(controller) }));
    let value: R | Promise<R>;
    try {
      value = run();
    } catch (error) {
      off();
      return reject(error as Error);
    }
    if (!isThenable(value)) {
      off();
      return resolve({ aborted: false, value });
    }
    value.then(
      (v) => {
        off();
        resolve({ aborted: false, value: v });
      },
      (error: unknown) => {
        off();
        reject(error as Error);
      },
    );
  });
}

function isThenable<R>(v: R | Promise<R>): v is Promise<R> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function reasonOf(controller: JobController): AbortReason {
  const reason = controller.reason;
  if (reason instanceof JobParked) return 'parked';
  return reason instanceof JobAbortError ? reason.reason : 'shutdown';
}

/** The abort reason of a run that parked its job (ctx.sleep / ctx.waitFor). */
class JobParked extends JobAbortError {
  constructor(readonly dueInMs: number | null) {
    super('parked', 'the job was parked (sleep or waitFor): it runs again when due or released');
  }
}

/** Why a step ended the run: it parked the job, or its write was fenced off (the lease was lost). */
function stepAbort(reason: 'parked' | 'lease-lost', dueInMs: number | null): JobAbortError {
  return reason === 'parked'
    ? new JobParked(dueInMs)
    : new JobAbortError('lease-lost', 'lease lost: a step write was fenced off');
}

function parkedOutcome(controller: JobController): RunOutcome {
  return { kind: 'parked', dueInMs: (controller.reason as JobParked).dueInMs };
}

/** Arms the timeout for one run; returns a disarm function. */
function armTimeout(controller: JobController, timeoutMs: number): () => void {
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

const NO_CHILDREN: ReadonlyMap<JobId, ChildOutcome> = new Map();

/** Runs one job's handler and decides what to write. */
export async function runJob(
  q: ResolvedQueue,
  job: Job,
  controller: JobController,
  env: RunEnv,
): Promise<RunOutcome> {
  if (q.schema) {
    const valid = await validatePayload(q, job);
    if (!valid.ok) return { kind: 'write', action: { type: 'dead', error: valid.error }, timedOut: false };
  }
  const timeoutMs = jobTimeout(q, job);
  const children = job.isRollup ? await env.childOutcomes(job) : NO_CHILDREN;
  const ctx = new HandlerContext(
    controller,
    env.workerId,
    children as Map<JobId, ChildOutcome>,
    (leaseMs = q.leaseMs) => env.extendLease(job, leaseMs),
    job,
    env,
    q.name,
  );
  const events = env.events;
  if (events.listenerCount('job:started') > 0) events.emit('job:started', { queue: q.name, job });
  const disarm = armTimeout(controller, timeoutMs);
  const started = performance.now();
  const handler = () => q.handler!(job, ctx as JobContext);
  const wrap = env.wrap;
  let outcome: Outcome;
  let timedOut = false;
  let reported: ProgressWrite | null | Promise<ProgressWrite | null> | undefined;
  let abandoned = false;
  const abandon = (reason: AbortReason): RunOutcome => {
    abandoned = true;
    return { kind: 'abandon', reason };
  };
  try {
    const r = await raceAbort(
      wrap ? () => wrap({ queue: q.name, jobs: [job] }, handler) : handler,
      controller,
    );
    if (r.aborted) {
      if (r.reason === 'parked') return parkedOutcome(controller);
      if (r.reason !== 'timeout') return abandon(r.reason);
      timedOut = true;
      const error = controller.reason as JobAbortError;
      events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
      events.emit('job:failed', {
        queue: q.name,
        job,
        error,
        timedOut,
        durationMs: performance.now() - started,
      });
      outcome = await mapError(q, job, error, true);
    } else {
      outcome = outcomeFromReturn(r.value);
    }
  } catch (error) {
    if (controller.aborted && reasonOf(controller) === 'parked') return parkedOutcome(controller);
    if (controller.aborted && reasonOf(controller) !== 'timeout') {
      return abandon(reasonOf(controller));
    }
    timedOut = controller.aborted;
    // After a timeout, the handler's own error is usually an AbortError: record the timeout itself.
    const failure = timedOut ? (controller.reason as unknown) : error;
    if (timedOut) events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
    events.emit('job:failed', {
      queue: q.name,
      job,
      error: failure,
      timedOut,
      durationMs: performance.now() - started,
    });
    outcome = await mapError(q, job, failure, timedOut);
  } finally {
    disarm();
    // What the job reported last and is not yet written goes with its outcome (finish never rejects); a
    // job left alone (lease lost, shutdown) still gets it written, fenced, while it may hold the job.
    if (ctx.reporter) reported = ctx.reporter.finish();
    if (abandoned && reported) {
      const sink = env.report;
      void Promise.resolve(reported)
        .then((w) => (w && sink ? sink(job, w) : undefined))
        .catch((error: unknown) => events.emit('error', { error, context: `report:${q.name}` }));
    }
  }
  return { kind: 'write', action: await decide(q, job, outcome, env, started), timedOut, reported };
}

/** Runs a batch handler; returns one decision per job (same order as `jobs`). */
export async function runBatch(
  q: ResolvedQueue,
  jobs: Job[],
  controller: JobController,
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
  // Durable steps per job of the batch, made on the first step call of each.
  let steps: Map<string, JobSteps> | undefined;
  const ctx = {
    get signal() {
      return controller.signal;
    },
    workerId: env.workerId,
    extendLease: async (leaseMs = q.leaseMs) => {
      const all = await Promise.all(valid.map((j) => env.extendLease(j, leaseMs)));
      return all.every(Boolean);
    },
    step: async <T>(job: Job, name: string, fn: () => T | Promise<T>): Promise<Awaited<T>> => {
      const own = valid.find((j) => j.id === job?.id);
      if (!own) throw new ValidationError('step job', job?.id, 'is not a job of this batch');
      steps ??= new Map();
      let s = steps.get(own.id);
      if (!s) steps.set(own.id, (s = jobSteps(env, q.name, own, controller, stepAbort)));
      return s.step(name, fn);
    },
    ...helpers,
  };
  for (const job of valid) env.events.emit('job:started', { queue: q.name, job });
  const disarm = armTimeout(controller, timeoutMs);
  const started = performance.now();
  const wrap = env.wrap;
  const handler = () => q.batchHandler!(valid, ctx);
  let perJob: (Outcome | undefined)[] = [];
  let failure: { error: unknown; timedOut: boolean } | undefined;
  try {
    if (valid.length > 0) {
      const r = await raceAbort<BatchResult>(
        wrap ? () => wrap({ queue: q.name, jobs: valid }, handler) as BatchResult : handler,
        controller,
      );
      if (r.aborted) {
        if (r.reason !== 'timeout') return jobs.map(() => ({ kind: 'abandon', reason: r.reason }));
        failure = { error: controller.reason, timedOut: true };
        for (const job of valid) env.events.emit('job:timed-out', { queue: q.name, job, timeoutMs });
      } else {
        perJob = spreadBatchResult(r.value, valid);
      }
    }
  } catch (error) {
    if (controller.aborted && reasonOf(controller) !== 'timeout') {
      return jobs.map(() => ({ kind: 'abandon', reason: reasonOf(controller) }));
    }
    failure = { error, timedOut: controller.aborted };
  } finally {
    disarm();
  }
  let v = 0;
  for (let i = 0; i < jobs.length; i++) {
    if (decisions[i]) continue;
    const job = jobs[i]!;
    let outcome: Outcome;
    if (failure) {
      env.events.emit('job:failed', {
        queue: q.name,
        job,
        error: failure.error,
        timedOut: failure.timedOut,
        durationMs: performance.now() - started,
      });
      outcome = await mapError(q, job, failure.error, failure.timedOut);
    } else {
      outcome = perJob[v] ?? outcomes.done();
    }
    v++;
    decisions[i] = {
      kind: 'write',
      action: await decide(q, job, outcome, env, started),
      timedOut: failure?.timedOut ?? false,
    };
  }
  return decisions as RunOutcome[];
}

/**
 * What to write for an outcome. A result that will be stored (for a parent's rollup, or into the history
 * table) is encoded here, once; one that cannot be stored as JSON (or is larger than maxPayloadBytes) is
 * a failure: reported, then mapped like one.
 */
async function decide(
  q: ResolvedQueue,
  job: Job,
  outcome: Outcome,
  env: RunEnv,
  started: number,
): Promise<StoreAction> {
  const action = actionFor(outcome, budget(q, job), Date.now(), q.keepProcessed);
  switch (action.type) {
    case 'ack': {
      // A tracked job (awaited, a flow node, a dependency) records its result even when it is undefined;
      // a job awaited by ctx.run reports its result to the job that awaits it.
      const stored =
        (action.hasResult && (action.keep || job.parentId !== null || awaited(job))) || isTracked(job);
      let result: string | null = null;
      if (stored) {
        try {
          result = encodePayload(action.hasResult ? action.result : null, env.maxResultBytes);
        } catch (err) {
          const unstorable = new Error(`handler result cannot be stored: ${describeError(err)}`);
          env.events.emit('job:failed', {
            queue: q.name,
            job,
            error: unstorable,
            timedOut: false,
            durationMs: performance.now() - started,
          });
          return decide(q, job, await mapError(q, job, unstorable, false), env, started);
        }
      }
      return action.keep ? { type: 'keep', result } : { type: 'ack', result };
    }
    case 'snooze':
      return { type: 'snooze', delayMs: action.delayMs, note: null };
    default:
      return action;
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

/** Whether a job was enqueued by ctx.run (another job awaits its outcome). */
export function awaited(job: Job): boolean {
  return job.meta !== null && job.meta[AWAITED_META_KEY] !== undefined;
}
