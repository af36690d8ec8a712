import type { Job } from '../types.js';
import type { JobController } from './abort.js';
import type { RunEnv } from './runner.js';
import { JobSteps } from './steps.js';

/**
 * One job's durable steps for one run, wired to the worker: the queue's store (the shared pool), the
 * `job:step` event, ctx.run's enqueue, and `abortWith`, the reason the run's switch is thrown with when a
 * step parks the job or finds its write fenced off. Made on a handler's first step call only.
 */
export function jobSteps(
  env: RunEnv,
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
