import type { Queue } from '../client/queue.js';
import { isTracked } from '../core/tracking.js';
import type { QueueContext } from '../client/context.js';
import { toFence } from '../core/fence.js';
import { isOutcome, type Outcome } from '../core/outcome.js';
import { optionalInt, checkOptions } from '../core/validate.js';
import type { StoreAction } from '../store/job-store.js';
import type { Job } from '../types.js';
import { JobController } from '../worker/abort.js';
import { WorkerEventEmitter } from '../worker/events.js';
import { runBatch, runJob, type RunEnv, type RunOutcome } from '../worker/runner.js';
import { resolveQueue, type QueueConfig } from '../worker/queue-options.js';
import { TestAssertionError } from './errors.js';

/** What became of one handler run. */
export type DrainOutcomeKind = 'done' | 'kept' | 'removed' | 'retried' | 'snoozed' | 'dead';

export interface DrainRun<P> {
  /** The job as the handler saw it (`attempts` is this run's attempt number). */
  job: Job<P>;
  outcome: DrainOutcomeKind;
  /** What the handler finished with (`return value`, `ctx.done(value)`, `ctx.keep(value)`), if anything. */
  result?: unknown;
  /** What the handler threw, or the timeout error, when it failed. */
  error?: unknown;
  /** The error recorded on the job (`retried`, `dead`). */
  recordedError?: string;
  /** Delay before the next attempt (`retried`, `snoozed`). */
  delayMs?: number;
  /** False when the write was fenced off (something else changed the job meanwhile). */
  written: boolean;
}

export interface DrainResult<P> {
  /** Every run, in the order they ran. */
  runs: DrainRun<P>[];
  /** How many runs ended each way. */
  counts: Record<DrainOutcomeKind, number>;
}

export interface DrainOptions {
  /** Most handler runs before drain gives up with a TestAssertionError (a job that re-enqueues itself forever). Default 1,000. */
  maxRuns?: number;
  /** Recorded on claimed jobs and given to handlers as `ctx.workerId`. Default `arbiter-test`. */
  workerId?: string;
}

const KEYS = ['maxRuns', 'workerId'] as const;

/**
 * Runs the queue's ready jobs with your real handler, inline, one job (or one batch) at a time, until none
 * is ready, and returns what became of each run. Jobs go through everything a worker does: the queue
 * options (schema validation, timeout, backoff, maxAttempts, onError, keepProcessed), fenced writes, trees
 * (a parent's completion round runs once its last child is done) and dead letters.
 *
 * "Ready" is what a worker would claim now: a retry with no delay (`ctx.retryAfter(0)`, a zero backoff)
 * runs again within the same drain, up to the job's attempt budget, each run reported; a retry or snooze
 * with a delay, and jobs scheduled for later, stay where they are. Make them due with `makeDue`, then
 * drain again.
 */
export async function drain<P>(
  queue: Queue<P>,
  handling: QueueConfig<P> | NonNullable<QueueConfig<P>['handler']>,
  options: DrainOptions = {},
): Promise<DrainResult<P>> {
  const o = checkOptions<DrainOptions>(options, 'options', KEYS);
  const maxRuns = optionalInt(o.maxRuns, 'options.maxRuns', 1, 10_000_000, 1_000);
  const workerId = o.workerId ?? 'arbiter-test';
  const config = typeof handling === 'function' ? { handler: handling } : handling;
  const q = resolveQueue(queue.name, config, 1);
  const store = queue.store;
  // The Queue keeps its Arbiter's payload limit in its context; a stored result obeys the same limit.
  const maxResultBytes = (queue as unknown as { ctx: QueueContext }).ctx.maxPayloadBytes;

  // What the handler returned and threw, per job, seen through the worker's own hooks.
  const returned = new Map<string, unknown>();
  const thrown = new Map<string, unknown>();
  const events = new WorkerEventEmitter();
  events.on('job:failed', (e) => thrown.set(e.job.id, e.error));
  const env: RunEnv = {
    events,
    workerId,
    extendLease: (job, leaseMs) => store.extendLease(toFence(job), leaseMs),
    maxResultBytes,
    childOutcomes: (job) => store.childOutcomes(job.id),
    store: () => store,
    wrap: (call, next) => {
      const value = next();
      const record = (v: unknown) => {
        if (call.jobs.length === 1) returned.set(call.jobs[0]!.id, v);
        return v;
      };
      return value instanceof Promise ? value.then(record) : record(value);
    },
  };

  const runs: DrainRun<P>[] = [];
  const counts: Record<DrainOutcomeKind, number> = {
    done: 0,
    kept: 0,
    removed: 0,
    retried: 0,
    snoozed: 0,
    dead: 0,
  };
  for (;;) {
    let jobs: Job<P>[];
    if (q.batchHandler) {
      const { batches } = await store.claimBatches({
        batchSize: q.batchSize,
        maxBatches: 1,
        leaseMs: q.leaseMs,
        workerId,
      });
      jobs = (batches[0] ?? []) as Job<P>[];
    } else {
      jobs = (await store.claim({ limit: 1, leaseMs: q.leaseMs, workerId })).jobs as Job<P>[];
    }
    if (jobs.length === 0) break;
    if (runs.length + jobs.length > maxRuns) {
      const last = runs.slice(-5).map((r) => `job ${r.job.id} ${r.outcome}`);
      throw new TestAssertionError(
        'drain',
        `drain(${queue.name}) ran ${runs.length} jobs and more are still ready (maxRuns: ${maxRuns}); ` +
          `a handler may be enqueueing or retrying without end. Last runs: ${last.join(', ')}`,
        { expected: `at most ${maxRuns} runs`, actual: runs.length + jobs.length },
      );
    }
    const controller = new JobController();
    const decided: RunOutcome[] = q.batchHandler
      ? await runBatch(q, jobs as Job[], controller, env)
      : [await runJob(q, jobs[0] as Job, controller, env)];
    // A run that parked its job (ctx.sleep, ctx.waitFor) wrote already: it runs again once due or released.
    const parked = decided.every((d) => d.kind === 'parked');
    if (parked) continue;
    const writes = decided.map((d, i) => {
      if (d.kind === 'parked') throw new Error(`drain: job ${jobs[i]!.id} parked inside a batch`);
      if (d.kind !== 'write') {
        // Only a lost lease or a shutdown abandons a run; neither happens inline.
        throw new Error(`drain: run of job ${jobs[i]!.id} was abandoned (${d.reason})`);
      }
      return d.action;
    });
    const written = await store.complete(
      jobs.map((job, i) => ({
        fence: toFence(job),
        inTree: job.parentId !== null || job.isRollup,
        tracked: isTracked(job),
        action: writes[i]!,
      })),
    );
    jobs.forEach((job, i) => {
      const run = describeRun(job, writes[i]!, returned.get(job.id), thrown.get(job.id), written[i]!);
      returned.delete(job.id);
      thrown.delete(job.id);
      counts[run.outcome]++;
      runs.push(run);
    });
  }
  return { runs, counts };
}

function describeRun<P>(
  job: Job<P>,
  action: StoreAction,
  returned: unknown,
  error: unknown,
  written: boolean,
): DrainRun<P> {
  const run: DrainRun<P> = { job, outcome: 'done', written };
  if (error !== undefined) run.error = error;
  const raw: Outcome | undefined = isOutcome(returned) ? returned : undefined;
  switch (action.type) {
    case 'ack':
    case 'keep': {
      run.outcome = action.type === 'keep' ? 'kept' : raw?.kind === 'remove' ? 'removed' : 'done';
      if (raw && (raw.kind === 'done' || raw.kind === 'keep')) {
        if (raw.hasResult) run.result = raw.result;
      } else if (returned !== undefined && !raw) {
        run.result = returned;
      }
      break;
    }
    case 'retry':
      run.outcome = 'retried';
      run.recordedError = action.error;
      run.delayMs = action.delayMs;
      break;
    case 'snooze':
      run.outcome = 'snoozed';
      run.delayMs = action.delayMs;
      break;
    case 'dead':
      run.outcome = 'dead';
      run.recordedError = action.error;
      break;
  }
  return run;
}
