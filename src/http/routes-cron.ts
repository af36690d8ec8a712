import type { CronScheduleInput, CronSchedulePatch } from '../client/cron.js';
import { CronScheduleNotFoundError } from '../errors.js';
import { objectBody } from './params.js';
import type { RouteContext, RouteDef } from './route.js';
import { ref } from './schema-parts.js';

const nameOf = (ctx: RouteContext): string => ctx.params.name ?? '';

/** Recurring schedules, managed at runtime (arbiter.cron). */
export const cronRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/cron',
    operationId: 'listCron',
    summary: 'Every recurring schedule, from code and added at runtime, with its last and next tick.',
    tag: 'cron',
    response: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('CronSchedule') } },
    },
    async handle(ctx) {
      return { items: await ctx.arbiter.cron.list() };
    },
  },
  {
    method: 'post',
    path: '/cron',
    operationId: 'addCron',
    summary:
      'Adds a schedule; it fires from its next tick on (409 when the name is taken, 404 when the queue does not exist).',
    tag: 'cron',
    body: ref('CronScheduleInput'),
    response: ref('CronSchedule'),
    status: 201,
    async handle(ctx) {
      return ctx.arbiter.cron.add(objectBody(ctx.body) as unknown as CronScheduleInput);
    },
  },
  {
    method: 'get',
    path: '/cron/{name}',
    operationId: 'getCron',
    summary: 'One schedule.',
    tag: 'cron',
    response: ref('CronSchedule'),
    async handle(ctx) {
      const found = await ctx.arbiter.cron.get(nameOf(ctx));
      if (!found) throw new CronScheduleNotFoundError(nameOf(ctx));
      return found;
    },
  },
  {
    method: 'post',
    path: '/cron/{name}',
    operationId: 'setCron',
    summary:
      'Changes a schedule (fields left out stay). A code schedule changed here is no longer rewritten by deploys.',
    tag: 'cron',
    body: ref('CronSchedulePatch'),
    response: ref('CronSchedule'),
    async handle(ctx) {
      return ctx.arbiter.cron.set(nameOf(ctx), objectBody(ctx.body) as CronSchedulePatch);
    },
  },
  {
    method: 'post',
    path: '/cron/{name}/pause',
    operationId: 'pauseCron',
    summary: 'Stops a schedule firing until resumed (deploys do not resume it).',
    tag: 'cron',
    response: ref('CronSchedule'),
    async handle(ctx) {
      return ctx.arbiter.cron.pause(nameOf(ctx));
    },
  },
  {
    method: 'post',
    path: '/cron/{name}/resume',
    operationId: 'resumeCron',
    summary: 'Lets a paused schedule fire again from its next tick (the ticks of the pause do not fire).',
    tag: 'cron',
    response: ref('CronSchedule'),
    async handle(ctx) {
      return ctx.arbiter.cron.resume(nameOf(ctx));
    },
  },
  {
    method: 'delete',
    path: '/cron/{name}',
    operationId: 'removeCron',
    summary: 'Removes a schedule. A code schedule comes back when a worker that has it in code starts.',
    tag: 'cron',
    response: { type: 'object', required: ['removed'], properties: { removed: { const: true } } },
    async handle(ctx) {
      if (!(await ctx.arbiter.cron.remove(nameOf(ctx)))) throw new CronScheduleNotFoundError(nameOf(ctx));
      return { removed: true };
    },
  },
];
