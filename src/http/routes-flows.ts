import { notFound } from './errors.js';
import { checkBodyKeys, objectBody } from './params.js';
import { queueOf, type RouteContext, type RouteDef } from './route.js';
import { ref } from './schema-parts.js';
import type { FlowNodes } from '../client/flows.js';

// Flows (named nodes with dependencies) and the recorded results of tracked jobs (docs/workflows.md).

const flowId = (ctx: RouteContext): string => ctx.params.id ?? '';

/** A node's `options.runAt` arrives as an ISO string; everything else is validated by the library. */
function flowBody(raw: unknown): { name?: string; nodes: FlowNodes; retainMs?: number } {
  const body = objectBody(raw);
  checkBodyKeys(body, ['name', 'nodes', 'retainMs']);
  const nodes = body.nodes;
  if (nodes !== null && typeof nodes === 'object' && !Array.isArray(nodes)) {
    for (const node of Object.values(nodes as Record<string, unknown>)) {
      const opts = (node as { options?: Record<string, unknown> } | null)?.options;
      if (opts && typeof opts.runAt === 'string') opts.runAt = new Date(opts.runAt);
    }
  }
  return body as { name?: string; nodes: FlowNodes; retainMs?: number };
}

export const flowRoutes: RouteDef[] = [
  {
    method: 'post',
    path: '/flows',
    operationId: 'createFlow',
    summary:
      'Enqueues a flow in one transaction: named nodes, each a job on any queue, each run once the nodes ' +
      'it dependsOn succeeded. A cycle (FLOW_CYCLE), an unknown node (UNKNOWN_DEPENDENCY), more than 1,000 ' +
      'nodes (BATCH_TOO_LARGE) or a missing queue write nothing.',
    tag: 'flows',
    body: ref('FlowRequest'),
    response: ref('FlowCreated'),
    status: 201,
    async handle(ctx) {
      const flow = await ctx.arbiter.flow(flowBody(ctx.body));
      return { id: flow.id, name: flow.name, jobs: flow.jobs };
    },
  },
  {
    method: 'get',
    path: '/flows',
    operationId: 'listFlows',
    summary:
      'The newest flows first (up to `limit`, before id `before`), each with its nodes counted by state.',
    tag: 'flows',
    query: [
      {
        name: 'limit',
        description: 'At most this many (1 to 1,000, default 50).',
        schema: { type: 'integer' },
      },
      {
        name: 'before',
        description: 'Only flows with a smaller id (the next page).',
        schema: { type: 'string' },
      },
    ],
    response: { type: 'array', items: ref('FlowSummary') },
    async handle(ctx) {
      const limit = ctx.query.get('limit');
      const before = ctx.query.get('before');
      return ctx.arbiter.flows.list({
        ...(limit === null ? {} : { limit: Number(limit) }),
        ...(before === null ? {} : { beforeId: before }),
      });
    },
  },
  {
    method: 'get',
    path: '/flows/{id}',
    operationId: 'getFlow',
    summary:
      "A flow's state and every node's: waiting (for the dependencies it names), its job's status, or " +
      'succeeded / failed / cancelled with its result or error.',
    tag: 'flows',
    response: ref('Flow'),
    async handle(ctx) {
      return ctx.arbiter.flows.get(flowId(ctx));
    },
  },
  {
    method: 'post',
    path: '/flows/{id}/cancel',
    operationId: 'cancelFlow',
    summary: 'Cancels every node of the flow not finished yet (running ones are told to stop).',
    tag: 'flows',
    response: ref('Changed'),
    async handle(ctx) {
      return { changed: await ctx.arbiter.flows.cancel(flowId(ctx)) };
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/result',
    operationId: 'jobResult',
    summary:
      'The recorded outcome of a job enqueued with `result` (or a flow node, or a dependency): its state and ' +
      'its result or final error, kept for its retention after it finished. 404 RESULT_NOT_FOUND otherwise.',
    tag: 'jobs',
    response: ref('JobResult'),
    async handle(ctx) {
      const id = ctx.params.id ?? '';
      if (!/^[1-9][0-9]{0,18}$/.test(id)) throw notFound('JOB_NOT_FOUND', `no job ${id}`);
      return queueOf(ctx).jobs.result(id);
    },
  },
];
