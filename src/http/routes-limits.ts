import type { KeyLimitsPatch, QueueLimitsPatch } from '../core/flow-limits.js';
import { objectBody, intParam } from './params.js';
import { queueOf, type RouteDef } from './route.js';
import { ref } from './schema-parts.js';

// Flow-control limits over HTTP (docs/flow-control.md): a queue's limits, and per limit key its override
// and its use. Values are checked by the library (400 naming the field); an unknown queue is a 404.

export const limitRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/queues/{queue}/limits',
    operationId: 'getQueueLimits',
    summary: "A queue's flow-control limits (a cap on jobs in flight, a token bucket, per-key defaults).",
    tag: 'queues',
    response: ref('QueueLimits'),
    async handle(ctx) {
      return ctx.arbiter.getQueueLimits(queueOf(ctx).name);
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/limits',
    operationId: 'setQueueLimits',
    summary:
      "Changes a queue's flow-control limits; workers apply them within a second. Returns the limits in force.",
    tag: 'queues',
    body: ref('QueueLimitsPatch'),
    response: ref('QueueLimits'),
    async handle(ctx) {
      return ctx.arbiter.setQueueLimits(queueOf(ctx).name, objectBody(ctx.body) as QueueLimitsPatch);
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/keys',
    operationId: 'listKeys',
    summary:
      'The limit keys of a queue with per-key limits, in key order (keyset pagination by key): keys with ' +
      'ungrouped jobs and keys with an override, each with the limits in force and its use now (in flight, ' +
      'ready, tokens). Empty for a queue without per-key limits.',
    tag: 'queues',
    query: [
      {
        name: 'limit',
        description: 'Page size, 1–500. Default 50.',
        schema: { type: 'integer', minimum: 1, maximum: 500 },
      },
      {
        name: 'after',
        description: 'Keys after this one: nextAfter of the previous page.',
        schema: { type: 'string' },
      },
    ],
    response: ref('KeyPage'),
    async handle(ctx) {
      const raw = ctx.query.get('limit');
      const limit = raw === null ? 50 : intParam(raw, 'limit');
      const after = ctx.query.get('after') ?? undefined;
      const items = await ctx.arbiter.listKeys(queueOf(ctx).name, {
        limit,
        ...(after === undefined ? {} : { after }),
      });
      return { items, nextAfter: items.length === limit ? items[items.length - 1]!.key : null };
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/keys/{key}/limits',
    operationId: 'getKeyLimits',
    summary: "One limit key's override of its queue's per-key defaults (every field null when it has none).",
    tag: 'queues',
    response: ref('KeyLimits'),
    async handle(ctx) {
      return ctx.arbiter.getKeyLimits(queueOf(ctx).name, ctx.params.key ?? '');
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/keys/{key}/limits',
    operationId: 'setKeyLimits',
    summary:
      "Changes one limit key's override (maxInFlight, rate, weight; null falls back to the queue's default); " +
      'the next claim applies it. Returns the override now stored.',
    tag: 'queues',
    body: ref('KeyLimitsPatch'),
    response: ref('KeyLimits'),
    async handle(ctx) {
      return ctx.arbiter.setKeyLimits(
        queueOf(ctx).name,
        ctx.params.key ?? '',
        objectBody(ctx.body) as KeyLimitsPatch,
      );
    },
  },
];
