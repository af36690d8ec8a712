import type { DeadLetterSelection } from '../client/dead-letters-across.js';
import { badRequest, notFound, type HttpError } from './errors.js';
import { checkBodyKeys, jobFilterParams, objectBody, pageParams } from './params.js';
import { queueOf, type RouteContext, type RouteDef } from './route.js';
import { idsBody } from './routes-jobs.js';
import { ref } from './schema-parts.js';
import { DLQ_ACROSS_FILTER_QUERY, DLQ_ACROSS_LIST_QUERY, DLQ_LIST_QUERY } from './query-docs.js';

const jobId = (ctx: RouteContext): string => ctx.params.id ?? '';

const notInDlq = (ctx: RouteContext, queue: string): HttpError =>
  notFound('JOB_NOT_FOUND', `dead letter ${jobId(ctx)} is not in queue "${queue}"`);

/** `queue` (comma-separated, default every queue) and the dead-letter filters of a query string. */
function selection(query: URLSearchParams): DeadLetterSelection {
  const filter = jobFilterParams(query, true);
  const queue = query.get('queue');
  if (queue === null) return { filter };
  const queues = queue.split(',').filter((q) => q !== '');
  if (queues.length === 0) throw badRequest('queue', 'must name at least one queue');
  return { queues, filter };
}

/** The dead-letter table of a queue. Ids in these routes are dead-letter ids, not the jobs' old ids. */
export const deadLetterRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/dead-letters',
    operationId: 'listDeadLettersAcrossQueues',
    summary:
      'Dead letters of every queue (or of `queue`), most recently failed first, each with its queue; keyset ' +
      "pagination that reads about a page of each queue's failed-time index.",
    tag: 'dead-letters',
    query: DLQ_ACROSS_LIST_QUERY,
    response: ref('DeadJobPage'),
    async handle(ctx) {
      return ctx.arbiter.deadLetters.list({ ...selection(ctx.query), ...pageParams(ctx.query) });
    },
  },
  {
    method: 'get',
    path: '/dead-letters/count',
    operationId: 'countDeadLettersAcrossQueues',
    summary:
      'How many dead letters match (counting stops at 10,000 per queue: then a lower bound). For a ' +
      'confirmation before a bulk retry, not for polling.',
    tag: 'dead-letters',
    query: DLQ_ACROSS_FILTER_QUERY,
    response: { type: 'object', required: ['count'], properties: { count: ref('Count') } },
    async handle(ctx) {
      return { count: await ctx.arbiter.deadLetters.count(selection(ctx.query)) };
    },
  },
  {
    method: 'post',
    path: '/dead-letters/retry',
    operationId: 'retryDeadLettersMatching',
    summary:
      'Retries the next `limit` (default 500, at most 1,000) dead letters matching the query filters, one ' +
      'transaction per queue; send `nextCursor` back as `cursor` until it is null.',
    tag: 'dead-letters',
    query: DLQ_ACROSS_FILTER_QUERY,
    body: {
      type: 'object',
      properties: { cursor: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
      additionalProperties: false,
    },
    response: ref('RetryMatchingResult'),
    async handle(ctx) {
      const body = objectBody(ctx.body, true);
      checkBodyKeys(body, ['cursor', 'limit']);
      if (body.cursor !== undefined && typeof body.cursor !== 'string')
        throw badRequest('cursor', 'must be a string');
      if (body.limit !== undefined && typeof body.limit !== 'number') {
        throw badRequest('limit', 'must be an integer');
      }
      return ctx.arbiter.deadLetters.retryMatching({
        ...selection(ctx.query),
        ...(body.cursor === undefined ? {} : { cursor: body.cursor as string }),
        ...(body.limit === undefined ? {} : { limit: body.limit as number }),
      });
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'Dead letters matching every given filter, most recently failed first.',
    tag: 'dead-letters',
    query: DLQ_LIST_QUERY,
    response: ref('DeadJobPage'),
    async handle(ctx) {
      const filter = jobFilterParams(ctx.query, true);
      return queueOf(ctx).dlq.list({ filter, ...pageParams(ctx.query) });
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/dead-letters/{id}',
    operationId: 'getDeadLetter',
    summary: 'One dead letter (by its dead-letter id).',
    tag: 'dead-letters',
    response: ref('DeadJob'),
    async handle(ctx) {
      const q = queueOf(ctx);
      const dead = await q.dlq.get(jobId(ctx));
      if (!dead) throw notInDlq(ctx, q.name);
      return dead;
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/dead-letters/{id}/retry',
    operationId: 'retryDeadLetter',
    summary: 'Puts a dead letter back in the queue as a new job.',
    tag: 'dead-letters',
    response: { type: 'object', properties: { job: ref('Job') } },
    async handle(ctx) {
      const q = queueOf(ctx);
      const job = await q.dlq.retry(jobId(ctx));
      if (!job) throw notInDlq(ctx, q.name);
      return { job };
    },
  },
  {
    method: 'delete',
    path: '/queues/{queue}/dead-letters/{id}',
    operationId: 'deleteDeadLetter',
    summary: 'Deletes a dead letter for good.',
    tag: 'dead-letters',
    response: ref('Changed'),
    async handle(ctx) {
      const q = queueOf(ctx);
      const changed = await q.dlq.delete(jobId(ctx));
      if (changed === 0) throw notInDlq(ctx, q.name);
      return { changed };
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/dead-letters/retry',
    operationId: 'retryDeadLetters',
    summary:
      'Retries up to 1,000 dead letters in one transaction (all or none). `jobs` are the new jobs in the ' +
      'order given; `missing` lists ids that were not in the table.',
    tag: 'dead-letters',
    body: ref('Ids'),
    response: {
      type: 'object',
      properties: {
        jobs: { type: 'array', items: ref('Job') },
        missing: { type: 'array', items: { type: 'string' } },
      },
    },
    async handle(ctx) {
      const { retried, missing } = await queueOf(ctx).dlq.retryMany(idsBody(ctx) as string[]);
      return { jobs: retried.map((r) => r.job), missing };
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/dead-letters/delete',
    operationId: 'deleteDeadLetters',
    summary: 'Deletes up to 1,000 dead letters in one transaction.',
    tag: 'dead-letters',
    body: ref('Ids'),
    response: ref('Changed'),
    async handle(ctx) {
      return { changed: await queueOf(ctx).dlq.deleteMany(idsBody(ctx) as string[]) };
    },
  },
];
