import { checkBodyKeys, objectBody } from './params.js';
import { notFound } from './errors.js';
import { queueOf, type RouteDef } from './route.js';
import { nullable, ref } from './schema-parts.js';

// Durable steps (ctx.step, ctx.sleep, ctx.waitFor, ctx.run): what a job has done and waits for, and
// the events that release waiting jobs.

export const stepRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/steps',
    operationId: 'jobSteps',
    summary:
      "The job's finished durable steps (name, kind, stored result, when) in the order they finished, and " +
      'what it waits for now (an event until a timeout, or the end of a sleep). Also for a job kept in ' +
      'history or dead-lettered; empty once the job is gone.',
    tag: 'jobs',
    response: {
      type: 'object',
      required: ['steps', 'waiting'],
      properties: {
        steps: { type: 'array', items: ref('JobStep') },
        waiting: { ...nullable(ref('JobWait')), description: 'Null: waits for nothing.' },
      },
    },
    async handle(ctx) {
      const q = queueOf(ctx);
      const id = ctx.params.id ?? '';
      const [steps, waiting] = await Promise.all([q.jobs.steps(id), q.jobs.waiting(id)]);
      // The step tables are schema-wide: without rows, a job read tells an unknown queue (404).
      if (steps.length === 0 && waiting === null) await q.jobs.get(id);
      return { steps, waiting };
    },
  },
  {
    method: 'post',
    path: '/events/{name}',
    operationId: 'emitEvent',
    summary:
      'Emits an event: every job parked on it by ctx.waitFor is released exactly once; the event is kept ' +
      '(latched: a later waitFor returns it at once; a later emit replaces the payload). Names starting ' +
      'with `$` are reserved.',
    tag: 'jobs',
    body: {
      type: 'object',
      properties: { payload: { description: 'Any JSON value (default null).' } },
      additionalProperties: false,
    },
    response: {
      type: 'object',
      required: ['released'],
      properties: { released: { type: 'integer', description: 'Jobs released by this emit.' } },
    },
    async handle(ctx) {
      const body = ctx.body === undefined ? {} : objectBody(ctx.body);
      checkBodyKeys(body, ['payload']);
      return ctx.arbiter.emit(ctx.params.name ?? '', body.payload);
    },
  },
  {
    method: 'get',
    path: '/events/{name}',
    operationId: 'getEvent',
    summary: 'An event as stored (latest payload, emits, waits released) and how many jobs wait for it now.',
    tag: 'jobs',
    response: ref('EventInfo'),
    async handle(ctx) {
      const name = ctx.params.name ?? '';
      const event = await ctx.arbiter.event(name);
      if (!event)
        throw notFound('EVENT_NOT_FOUND', `event "${name}" was never emitted and no job waits for it`);
      return event;
    },
  },
];
