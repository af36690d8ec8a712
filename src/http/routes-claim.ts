import type { ClaimOptions, JobRef } from '../types.js';
import { badRequest, HttpError } from './errors.js';
import { checkBodyKeys, objectBody } from './params.js';
import { queueOf, type RouteContext, type RouteDef } from './route.js';
import { nullable, ref } from './schema-parts.js';

// The worker protocol over HTTP, for workers not written in Node: claim, then ack / extend / retry /
// fail with the attempt number the claim returned. Every write is fenced by (id, attempts) in the
// library, so a worker that lost its lease gets 409 and changes nothing.

function held(ctx: RouteContext, extra: readonly string[]): { ref: JobRef; body: Record<string, unknown> } {
  const body = objectBody(ctx.body);
  checkBodyKeys(body, ['attempts', ...extra]);
  return { ref: { id: ctx.params.id ?? '', attempts: body.attempts as number }, body };
}

function fenced(changed: number, id: string): { changed: number } {
  if (changed === 0) {
    throw new HttpError(
      409,
      'LEASE_LOST',
      `job ${id} is no longer held at this attempt (lease lost, or gone)`,
    );
  }
  return { changed };
}

const refBody = (props: Record<string, unknown>, required: string[] = []) => ({
  allOf: [ref('JobRef'), { type: 'object', required, properties: props }],
});

export const claimRoutes: RouteDef[] = [
  {
    method: 'post',
    path: '/queues/{queue}/claim',
    operationId: 'claimJobs',
    summary: 'Claims up to `limit` jobs (one per group), leased for `leaseMs`.',
    tag: 'worker-api',
    claim: true,
    body: {
      type: 'object',
      properties: {
        limit: { type: 'integer', minimum: 1, maximum: 10000 },
        leaseMs: { type: 'integer', minimum: 1 },
        workerId: { type: 'string' },
      },
      additionalProperties: false,
    },
    response: {
      type: 'object',
      properties: {
        items: { type: 'array', items: ref('Job') },
        nextDueInMs: {
          ...nullable({ type: 'number', minimum: 0 }),
          description:
            'When fewer jobs than `limit` came back: in how many ms (by the database clock) the ' +
            "queue's earliest job not claimable yet falls due (delayed, retrying, or leased). Claim " +
            'again then rather than polling. Null when the claim was full or nothing is scheduled.',
        },
      },
    },
    async handle(ctx) {
      const body = objectBody(ctx.body, true);
      checkBodyKeys(body, ['limit', 'leaseMs', 'workerId']);
      const { jobs, nextDueMs } = await queueOf(ctx).claimWithNextDue(body as ClaimOptions);
      return { items: jobs, nextDueInMs: nextDueMs === null ? null : Math.ceil(nextDueMs) };
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs/{id}/ack',
    operationId: 'ackJob',
    summary: 'Marks a held job done, optionally with a result for its parent.',
    tag: 'worker-api',
    claim: true,
    body: refBody({ result: { description: 'Any JSON value.' } }),
    response: ref('Changed'),
    async handle(ctx) {
      const { ref: job, body } = held(ctx, ['result']);
      const options = 'result' in body ? { result: body.result } : {};
      return fenced(await queueOf(ctx).ack(job, options), job.id as string);
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs/{id}/extend-lease',
    operationId: 'extendLease',
    summary: "Sets a held job's lease to `leaseMs` from now.",
    tag: 'worker-api',
    claim: true,
    body: refBody({ leaseMs: { type: 'integer', minimum: 0 } }, ['leaseMs']),
    response: ref('Changed'),
    async handle(ctx) {
      const { ref: job, body } = held(ctx, ['leaseMs']);
      if (body.leaseMs === undefined) throw badRequest('leaseMs', 'is required');
      return fenced(await queueOf(ctx).extendLease(job, body.leaseMs as number), job.id as string);
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs/{id}/retry',
    operationId: 'retryJob',
    summary: 'Releases a held job for another attempt after `delayMs`, recording `error`.',
    tag: 'worker-api',
    claim: true,
    body: refBody({ delayMs: { type: 'integer', minimum: 0 }, error: { type: 'string' } }),
    response: ref('Changed'),
    async handle(ctx) {
      const { ref: job, body } = held(ctx, ['delayMs', 'error']);
      const { attempts: _attempts, ...options } = body;
      return fenced(await queueOf(ctx).retry(job, options), job.id as string);
    },
  },
  {
    method: 'post',
    path: '/queues/{queue}/jobs/{id}/fail',
    operationId: 'failJob',
    summary: 'Moves a held job (and its descendants) to the dead-letter table with `error`.',
    tag: 'worker-api',
    claim: true,
    body: refBody({ error: { type: 'string' } }, ['error']),
    response: ref('Changed'),
    async handle(ctx) {
      const { ref: job, body } = held(ctx, ['error']);
      if (body.error === undefined) throw badRequest('error', 'is required');
      return fenced(await queueOf(ctx).dlq.move(job, body.error as string), job.id as string);
    },
  },
];
