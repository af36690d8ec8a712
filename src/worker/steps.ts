import { encodePayload } from '../core/payload.js';
import { isPlainObject } from '../core/validate.js';
import {
  AWAITED_META_KEY,
  jobDoneEvent,
  stepList,
  stepRecord,
  stepSleep,
  stepWaitEvent,
  type ParkAnswer,
  type StepRow,
} from '../db/queries/steps.js';
import { AwaitedJobFailedError, DuplicateStepError, ValidationError, WaitTimeoutError } from '../errors.js';
import type { Executor } from '../db/executor.js';
import type { JobStore } from '../store/job-store.js';
import type { EnqueueOptions, Job } from '../types.js';
import type { JobController } from './abort.js';

// Durable steps inside one job's run (ctx.step, ctx.sleep, ctx.waitFor). A job's handler is replayed from
// the top on every run; each step already finished returns its stored result instead of running again.
// Sleeps and waits end the run ("park" the job: no lease, no slot, the attempt refunded) and the job runs
// again when it is due or released. Nothing here is created for jobs that never call a step method.

/** Longest step or event name, in characters. */
export const MAX_STEP_NAME = 200;

/** Why a run ended early: the job was parked (a sleep or a wait), `dueInMs` from now (null: by an event). */
export class ParkedError extends Error {
  constructor(readonly dueInMs: number | null) {
    super('the job was parked (sleep or waitFor): the handler runs again when it is due');
    this.name = 'ParkedError';
  }
}

/** Thrown by a step method when the attempt no longer holds the job: its run was taken over or released. */
export class StepFencedError extends Error {
  constructor() {
    super('lease lost: another attempt holds this job, so the step was not recorded');
    this.name = 'AbortError';
  }
}

export interface WaitForOptions {
  /** Give up after this many ms (from the first time this wait parked): waitFor throws WaitTimeoutError. */
  timeoutMs?: number;
}

/** The parts of the worker a job's steps use. */
export interface StepHost {
  store: JobStore;
  maxResultBytes: number;
  /** Ends the run now: aborts the handler's signal (reason `parked` or `lease-lost`). */
  end(reason: 'parked' | 'lease-lost', dueInMs: number | null): void;
  /** Told of each ctx.step that finished: ran and recorded now, or replayed from its stored result. */
  stepped?(name: string, replayed: boolean): void;
  /**
   * Enqueues a job on any queue inside `tx`, as `queue.enqueue` does (same options, checks and errors),
   * and makes it report its end to this job; returns its id (null: nothing inserted).
   */
  enqueue(queue: string, payload: unknown, options: EnqueueOptions, tx: Executor): Promise<string | null>;
}

export interface RunOptions {
  /** Give up waiting after this many ms (from the enqueue): ctx.run throws WaitTimeoutError. */
  timeoutMs?: number;
  /** Enqueue options of the job (maxAttempts, priority, groupKey…); its meta gets Arbiter's marker. */
  enqueue?: EnqueueOptions;
}

/** What a job awaited by ctx.run reports when it ends (the payload of its done event). */
type AwaitedOutcome =
  { ok: true; result?: unknown } | { ok: false; error: string; state?: 'failed' | 'cancelled' };

class Rollback extends Error {}

function checkTimeout(field: string, ms: unknown): number | null {
  if (ms === undefined) return null;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new ValidationError(field, ms, 'must be a finite number of milliseconds, at least 0');
  return Math.round(ms);
}

function checkName(field: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_STEP_NAME)
    throw new ValidationError(
      field,
      name,
      `must be a non-empty string of at most ${MAX_STEP_NAME} characters`,
    );
  return name;
}

/** One job's steps during one run. */
export class JobSteps {
  private stored: Map<string, StepRow> | undefined;
  private loading: Promise<Map<string, StepRow>> | undefined;
  private readonly used = new Set<string>();
  private sleeps = 0;
  private waits = 0;
  private runs = 0;
  /** Set once the run parked the job; every later step call throws ParkedError again. */
  parked: ParkedError | undefined;

  constructor(
    private readonly job: Job,
    private readonly host: StepHost,
    private readonly controller: JobController,
  ) {}

  private get fence() {
    return { id: this.job.id, attempts: this.job.attempts };
  }

  private active(): void {
    if (this.parked) throw this.parked;
    if (this.controller.aborted) throw this.controller.reason;
  }

  /**
   * The job's stored steps, read once per run (at the first step call). A job on its first attempt has
   * none (only a claimed attempt records a step, and parking comes after a claim), so nothing is read.
   */
  private load(fromDb = false): Promise<Map<string, StepRow>> {
    if (this.stored) return Promise.resolve(this.stored);
    if (this.job.attempts === 1 && !fromDb) return Promise.resolve((this.stored = new Map()));
    return (this.loading ??= this.host.store
      .run(() => stepList(this.host.store.db, this.host.store.t, this.job.id))
      .then((rows) => (this.stored = new Map(rows.map((r) => [r.name, r])))));
  }

  async step<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
    checkName('step name', name);
    if (name.startsWith('$'))
      throw new ValidationError('step name', name, 'must not start with "$" (reserved for sleeps and waits)');
    if (typeof fn !== 'function') throw new ValidationError('step fn', fn, 'must be a function');
    if (this.used.has(name)) throw new DuplicateStepError(name);
    this.used.add(name);
    this.active();
    const stored = (await this.load()).get(name);
    if (stored) {
      this.host.stepped?.(name, true);
      return stored.result as Awaited<T>;
    }
    const value = await fn();
    this.active();
    const text = value === undefined ? null : encodePayload(value, this.host.maxResultBytes);
    const written = await this.host.store.run(() =>
      stepRecord(this.host.store.db, this.host.store.t, this.fence, name, text),
    );
    if (written === 'fenced') return this.lost();
    if (written === 'exists') {
      // Recorded meanwhile by another run of this job (it held the job before this attempt did): that
      // result stands, as it would for any later run.
      this.stored = undefined;
      this.loading = undefined;
      return (await this.load(true)).get(name)!.result as Awaited<T>;
    }
    this.host.stepped?.(name, false);
    const result = text === null ? undefined : (JSON.parse(text) as unknown);
    this.stored!.set(name, {
      name,
      kind: 'step',
      result,
      attempt: this.job.attempts,
      finished_at: new Date(),
    });
    return result as Awaited<T>;
  }

  async sleep(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw new ValidationError('sleep ms', ms, 'must be a finite number of milliseconds, at least 0');
    return this.sleepStep({ ms: Math.round(ms) });
  }

  async sleepUntil(at: Date): Promise<void> {
    if (!(at instanceof Date) || Number.isNaN(at.getTime()))
      throw new ValidationError('sleepUntil date', at, 'must be a valid Date');
    return this.sleepStep({ at });
  }

  private async sleepStep(wake: { ms: number } | { at: Date }): Promise<void> {
    const name = `$sleep:${++this.sleeps}`;
    this.active();
    const stored = (await this.load()).get(name);
    // A wake time well past by this host's clock needs no round trip; anything closer asks the database.
    if (stored && Date.parse(stored.result as string) < Date.now() - 5_000) return;
    const answer = await this.host.store.run(() =>
      stepSleep(this.host.store.db, this.host.store.t, this.fence, name, wake),
    );
    if (answer.state === 'done') return;
    return this.settle(answer);
  }

  async waitFor<T = unknown>(event: string, options: WaitForOptions = {}): Promise<T> {
    checkName('event name', event);
    if (options === null || typeof options !== 'object')
      throw new ValidationError('waitFor options', options, 'must be an object');
    const timeoutMs = checkTimeout('waitFor timeoutMs', options.timeoutMs);
    if (event.startsWith('$'))
      throw new ValidationError(
        'event name',
        event,
        'must not start with "$" (reserved for Arbiter\'s own events)',
      );
    const name = `$wait:${++this.waits}`;
    this.active();
    const stored = (await this.load()).get(name);
    if (stored?.kind === 'event') return stored.result as T;
    if (stored?.kind === 'timeout') throw new WaitTimeoutError(event);
    const answer = await this.host.store.run(() =>
      stepWaitEvent(this.host.store.db, this.host.store.t, this.fence, name, event, timeoutMs),
    );
    if (answer.state === 'released') {
      this.stored!.set(name, {
        name,
        kind: 'event',
        result: answer.result,
        attempt: 0,
        finished_at: new Date(),
      });
      return answer.result as T;
    }
    if (answer.state === 'timeout') {
      this.stored!.set(name, {
        name,
        kind: 'timeout',
        result: undefined,
        attempt: 0,
        finished_at: new Date(),
      });
      throw new WaitTimeoutError(event);
    }
    return this.settle(answer);
  }

  /**
   * Enqueues a job on `queue` and returns its result once it finished (the job that awaits is parked
   * meanwhile). The enqueue is recorded like a step in the same transaction, so a re-run never enqueues
   * it twice; the result is stored like a step's, so a later run returns it at once.
   */
  async run<R = unknown>(queue: string, payload: unknown, options: RunOptions = {}): Promise<R> {
    if (typeof queue !== 'string' || queue.length === 0)
      throw new ValidationError('run queue', queue, 'must be a queue name');
    if (options === null || typeof options !== 'object')
      throw new ValidationError('run options', options, 'must be an object');
    const timeoutMs = checkTimeout('run timeoutMs', options.timeoutMs);
    const k = ++this.runs;
    const name = `$run:${k}`;
    const jobStep = `$run:${k}:job`;
    this.active();
    const steps = await this.load();
    const done = steps.get(name);
    if (done) return this.awaited(done, queue);
    let child = steps.get(jobStep)?.result as { queue: string; id: string } | undefined;
    if (!child) {
      const store = this.host.store;
      const given = options.enqueue ?? {};
      if (given === null || typeof given !== 'object')
        throw new ValidationError('run options.enqueue', given, 'must be an object');
      // A meta that is not an object is passed on as given: the enqueue rejects it as it would anywhere.
      const by = { [AWAITED_META_KEY]: `${this.job.queue}:${this.job.id}` };
      const meta =
        given.meta == null ? by : isPlainObject(given.meta) ? { ...given.meta, ...by } : given.meta;
      try {
        child = await store.run(() =>
          store.db.transaction(async (tx) => {
            const id = await this.host.enqueue(queue, payload, { ...given, meta }, tx);
            if (id === null)
              throw new ValidationError('run payload', payload, 'was not enqueued (skipped as a duplicate)');
            const ref = { queue, id };
            const w = await stepRecord(tx, store.t, this.fence, jobStep, JSON.stringify(ref), 'run');
            if (w !== 'written') throw new Rollback();
            return ref;
          }),
        );
      } catch (err) {
        if (err instanceof Rollback) return this.lost();
        throw err;
      }
      steps.set(jobStep, {
        name: jobStep,
        kind: 'run',
        result: child,
        attempt: this.job.attempts,
        finished_at: new Date(),
      });
    }
    const ref = child;
    const answer = await this.host.store.run(() =>
      stepWaitEvent(
        this.host.store.db,
        this.host.store.t,
        this.fence,
        name,
        jobDoneEvent(ref.queue, ref.id),
        timeoutMs,
      ),
    );
    if (answer.state === 'released') {
      const row: StepRow = {
        name,
        kind: 'event',
        result: answer.result,
        attempt: 0,
        finished_at: new Date(),
      };
      steps.set(name, row);
      return this.awaited(row, queue);
    }
    if (answer.state === 'timeout') {
      steps.set(name, { name, kind: 'timeout', result: undefined, attempt: 0, finished_at: new Date() });
      throw new WaitTimeoutError(jobDoneEvent(ref.queue, ref.id));
    }
    return this.settle(answer);
  }

  private awaited<R>(row: StepRow, queue: string): R {
    const child = this.stored?.get(row.name + ':job')?.result as { queue: string; id: string } | undefined;
    if (row.kind === 'timeout')
      throw new WaitTimeoutError(jobDoneEvent(child?.queue ?? queue, child?.id ?? '?'));
    const outcome = row.result as AwaitedOutcome;
    if (outcome.ok) return outcome.result as R;
    throw new AwaitedJobFailedError(
      child?.queue ?? queue,
      child?.id ?? '?',
      outcome.error,
      outcome.state === 'cancelled' ? 'cancelled' : 'failed',
    );
  }

  /** A park answer that did not return a value: the job parked (the run ends) or the lease was lost. */
  private settle(answer: ParkAnswer): never {
    if (answer.state === 'parked') {
      const dueInMs =
        answer.until === null ? null : (answer.in_ms ?? Math.max(0, Date.parse(answer.until) - Date.now()));
      this.parked = new ParkedError(dueInMs);
      this.host.end('parked', dueInMs);
      throw this.parked;
    }
    return this.lost();
  }

  private lost(): never {
    this.host.end('lease-lost', null);
    throw new StepFencedError();
  }
}
