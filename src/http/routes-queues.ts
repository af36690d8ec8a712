import type { EnqueueItem } from '../client/queue.js';
import type { RetentionPatch } from '../core/retention.js';
import type { EnqueueOptions } from '../types.js';
import { badRequest, notFound } from './errors.js';
import { checkBodyKeys, objectBody, pageParams } from './params.js';
import { queueOf, type RouteContext, type RouteDef } from './route.js';
import { SCHEMAS } from './schemas.js';
import { nullable, ref } from './schema-parts.js';
import { PAGE_QUERY } from './query-docs.js';

const ENQUEUE_KEYS = Object.keys((SCHEMAS.EnqueueRequest!.properties as object) ?? {});

/** One enqueue item from JSON: known keys only (never `tx`), `runAt` from an ISO string. */
function enqueueItem(raw: unknown, field: string): EnqueueItem<unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw badRequest(field || 'body', 'must be a JSON object with a payload');
  }
  const o = raw as Record<string, unknown>;
  checkBodyKeys(o, ENQUEUE_KEYS, field ? `${field}.` : '');
  if (!('payload' in o)) throw badRequest(field ? `${field}.payload` : 'payload', 'is required');
  const { payload, runAt, ...rest } = o;
  const options: EnqueueOptions = rest as EnqueueOptions;
  if (runAt !== undefined) {
    const at = typeof runAt === 'string' ? new Date(runAt) : null;
    if (!at || Number.isNaN(at.getTime())) {
      throw badRequest(field ? `${field}.runAt` : 'runAt', 'must be an ISO 8601 date-time');
    }
    options.runAt = at;
  }
  return { payload, ...options };
}

async function queueInfo(ctx: RouteContext) {
  const q = queueOf(ctx);
  const info = await ctx.arbiter.getQueue(q.name);
  if (!info) throw notFound('QUEUE_NOT_FOUND', `queue "${q.name}" does not exist`);
  return info;
}

export const queueRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/queues',
    operationId: 'listQueues',
    summary:
      'Lists the queues in name order: every queue, or with limit (and cursor) one page of them ' +
      '(keyset pagination; nextCursor is null on the last page, and always without limit or cursor).',
    tag: 'queues',
    query: PAGE_QUERY,
    response: {
      type: 'object',
      properties: {
        items: { type: 'array', items: ref('Queue') },
        nextCursor: nullable({ type: 'string' }),
      },
    },
    async handle(ctx) {
      if (ctx.query.has('limit') || ctx.query.has('cursor'))
        return ctx.arbiter.listQueuesPage(pageParams(ctx.query));
      return { items: await ctx.arbiter.listQueues(), nextCursor: null };
    },
  },
  {
    method: 'get',
    path: '/enqueue-controls',
    operationId: 'enqueueControlStats',
    summary:
      'Per queue and kind, enqueues the enqueue controls folded or turned away: debounced, throttled, ' +
      'unique_rejected, overflow_rejected, overflow_dropped (totals of every producer; docs/enqueue.md).',
    tag: 'queues',
    response: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: { queue: { type: 'string' }, kind: { type: 'string' }, count: { type: 'integer' } },
          },
        },
      },
    },
    async handle(ctx) {
      return { items: await ctx.arbiter.enqueueControlStats() };
    },
  },
  {
    method: 'get',
    path: '/overview',
    operationId: 'overview',
    summary:
      'Every queue with bounded figures (total, ready/claimable, in flight, dead letters, groups: exact up to ' +
      'a cap, then a lower bound or an estimate; never a table scan), read at most once per cache period ' +
      '(overviewCacheMs) for all callers. What the dashboard polls. Scheduled, retrying and suspended ' +
      'counts need a full scan: GET /queues/{queue}/stats, on demand. With limit (and cursor): one page ' +
      'of queues in name order, costing limit + 2 statements per refresh whatever the number of queues.',
    tag: 'queues',
    query: PAGE_QUERY,
    response: ref('Overview'),
    async handle(ctx) {
      if (ctx.query.has('limit') || ctx.query.has('cursor'))
        return ctx.overview.readPage(pageParams(ctx.query));
      return ctx.overview.read();
    },
  },
  {
    method: 'post',
    path: '/queues',
    operationId: 'createQueue',
    summary: 'Creates a queue (idempotent).',
    tag: 'queues',
    body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    response: ref('Queue'),
    status: 201,
    async handle(ctx) {
      const body = objectBody(ctx.body);
      checkBodyKeys(body, ['name']);
      if (typeof body.name !== 'string') throw badRequest('name', 'must be a string');
      const q = await ctx.arbiter.createQueue(body.name);
      return queueInfo({ ...ctx, params: { queue: q.name } });
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}',
    operationId: 'getQueue',
    summary: 'One queue with its counts by status.',
    tag: 'queues',
    response: { allOf: [ref('Queue'), { type: 'object', properties: { stats: ref('QueueStats') } }] },
    async handle(ctx) {
      const info = await queueInfo(ctx);
      return { ...info, stats: await queueOf(ctx).jobs.stats() };
    },
  },
  {
    method: 'delete',
    path: '/queues/{queue}',
    operationId: 'dropQueue',
    summary: 'Drops a queue with all its jobs, dead letters and results.',
    tag: 'queues',
    response: { type: 'object', properties: { dropped: { const: true } } },
    async handle(ctx) {
      const name = queueOf(ctx).name;
      if (!(await ctx.arbiter.dropQueue(name)))
        throw notFound('QUEUE_NOT_FOUND', `queue "${name}" does not exist`);
      return { dropped: true };
    },
  },
  ...(['pause', 'resume'] as const).map((action): RouteDef => ({
    method: 'post',
    path: `/queues/{queue}/${action}`,
    operationId: `${action}Queue`,
    summary: action === 'pause' ? 'Stops claims from a queue.' : 'Lets a paused queue be claimed again.',
    tag: 'queues',
    response: { type: 'object', properties: { paused: { type: 'boolean' } } },
    async handle(ctx) {
      const name = queueOf(ctx).name;
      const ok =
        action === 'pause' ? await ctx.arbiter.pauseQueue(name) : await ctx.arbiter.resumeQueue(name);
      if (!ok) throw notFound('QUEUE_NOT_FOUND', `queue "${name}" does not exist`);
      return { paused: action === 'pause' };
    },
  })),
  {
    method: 'post',
    path: '/queues/{queue}/retention',
    operationId: 'setQueueRetention',
    summary:
      'Changes what a queue keeps of finished work (history rows, dead letters, throughput history); returns the retention in force.',
    tag: 'queues',
    body: ref('RetentionPatch'),
    response: ref('Retention'),
    async handle(ctx) {
      return ctx.arbiter.setQueueRetention(queueOf(ctx).name, objectBody(ctx.body) as RetentionPatch);
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/stats',
    operationId: 'queueStats',
    summary:
      'Exact counts by status, groups, dead letters and the oldest ready job age, in one full scan of the ' +
      "queue's job table: on demand, not for polling (GET /overview is the bounded reading).",
    tag: 'queues',
    response: ref('QueueStats'),
    async handle(ctx) {
      return queueOf(ctx).jobs.stats();
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs',
    operationId: 'enqueue',
    summary:
      'Enqueues one job. `job.enqueueOutcome` says what the enqueue did; `job` is null when nothing was ' +
      'written and no live job holds the key (dedup ignore, a unique key held after its job finished, a ' +
      'throttle whose job finished). With maxQueued at the cap: 429 QUEUE_FULL with Retry-After.',
    tag: 'jobs',
    body: ref('EnqueueRequest'),
    response: { type: 'object', properties: { job: { oneOf: [ref('Job'), { type: 'null' }] } } },
    status: 201,
    async handle(ctx) {
      const { payload, ...options } = enqueueItem(objectBody(ctx.body), '');
      return { job: await queueOf(ctx).enqueue(payload, options) };
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs/batch',
    operationId: 'enqueueMany',
    summary: 'Enqueues many jobs in one statement; all or nothing.',
    tag: 'jobs',
    body: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('EnqueueRequest'), maxItems: 10000 } },
    },
    response: {
      type: 'object',
      properties: { count: { type: 'integer' }, jobs: { type: 'array', items: ref('Job') } },
    },
    status: 201,
    async handle(ctx) {
      const body = objectBody(ctx.body);
      checkBodyKeys(body, ['items']);
      if (!Array.isArray(body.items)) throw badRequest('items', 'must be an array');
      const items = body.items.map((item, i) => enqueueItem(item, `items[${i}]`));
      const jobs = await queueOf(ctx).enqueueMany(items);
      return { count: jobs.length, jobs };
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/groups',
    operationId: 'listGroups',
    summary:
      "A queue's groups in key order (keyset pagination), each with its job count, FIFO head, and whether " +
      'it is blocked, by which job and why.',
    tag: 'jobs',
    query: PAGE_QUERY,
    response: ref('GroupPage'),
    async handle(ctx) {
      return queueOf(ctx).jobs.listGroups(pageParams(ctx.query));
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/groups/{groupKey}',
    operationId: 'groupJobs',
    summary:
      'Jobs of one group, newest first, with the group size and the group as the groups listing describes ' +
      'it (state, head, blocker, next job, why); `group` is null when no live job has the key.',
    tag: 'jobs',
    query: PAGE_QUERY,
    response: {
      allOf: [
        ref('JobPage'),
        {
          type: 'object',
          properties: {
            groupKey: { type: 'string' },
            count: { type: 'integer' },
            group: { oneOf: [ref('Group'), { type: 'null' }] },
          },
        },
      ],
    },
    async handle(ctx) {
      const q = queueOf(ctx);
      const groupKey = ctx.params.groupKey ?? '';
      const page = await q.jobs.list({ filter: { groupKey }, ...pageParams(ctx.query) });
      const group = await q.jobs.group(groupKey);
      return { groupKey, count: group?.jobCount ?? 0, group, ...page };
    },
  },
  {
    method: 'get',
    path: '/workers',
    operationId: 'listWorkers',
    summary: 'Registered workers and their last heartbeat.',
    tag: 'workers',
    response: { type: 'object', properties: { items: { type: 'array', items: ref('Worker') } } },
    async handle(ctx) {
      return { items: await ctx.arbiter.listWorkers() };
    },
  },
];
