import type { Executor } from '../db/executor.js';
import type { JobStore } from '../store/job-store.js';
import type { EnqueueOptions, Job } from '../types.js';
import type { JobController } from './abort.js';
import type { WorkerEventEmitter } from './events.js';
import { JobSteps } from './steps.js';

/** What a run's durable steps need of the worker (part of the runner's RunEnv). */
export interface StepEnv {
  events: WorkerEventEmitter;
  /** Largest result a child may store for its parent (the Arbiter's maxPayloadBytes). */
  maxResultBytes: number;
  /** The store of a queue, for durable steps (ctx.step, sleep, waitFor). Without one, step methods throw. */
  store?: (queue: string) => JobStore;
  /** Enqueues on any queue inside `tx`, for ctx.run; returns the job id (null: nothing inserted). */
  enqueue?: (
    queue: string,
    payload: unknown,
    options: EnqueueOptions,
    tx: Executor,
  ) => Promise<string | null>;
}

/**
 * One job's durable steps for one run, wired to the worker: the queue's store (the shared pool), the
 * `job:step` event, ctx.run's enqueue, and `abortWith`, the reason the run's switch is thrown with when a
 * step parks the job or finds its write fenced off. Made on a handler's first step call only.
 */
export function jobSteps(
  env: StepEnv,
  queue: string,
  job: Job,
  controller: JobController,
  abortWith: (reason: 'parked' | 'lease-lost', dueInMs: number | null) => unknown,
): JobSteps {
  const store = env.store?.(queue);
  if (!store) throw new Error('durable steps need a worker (this context has no store)');
  return new JobSteps(
    job,
    {
      store,
      maxResultBytes: env.maxResultBytes,
      end: (reason, dueInMs) => controller.abort(abortWith(reason, dueInMs)),
      stepped: (name, replayed) => {
        const events = env.events;
        if (events.listenerCount('job:step') > 0) events.emit('job:step', { queue, job, name, replayed });
      },
      enqueue: (q, payload, options, tx) => {
        if (!env.enqueue) throw new Error('ctx.run needs a worker (this context cannot enqueue)');
        return env.enqueue(q, payload, options, tx);
      },
    },
    controller,
  );
}
