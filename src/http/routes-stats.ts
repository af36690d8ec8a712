import type { StatsHistoryOptions } from '../client/queue-history.js';
import { intParam } from './params.js';
import type { QueryParamDoc, RouteContext, RouteDef } from './route.js';
import { ref } from './schema-parts.js';

// Throughput history (the rollup the workers write: docs/http.md "Throughput history").

const HISTORY_QUERY: readonly QueryParamDoc[] = [
  {
    name: 'minutes',
    description: 'How far back, 1–10080 (7 days). Default 60.',
    schema: { type: 'integer', minimum: 1, maximum: 10080 },
  },
  {
    name: 'bucketMinutes',
    description: 'Minutes per bucket, 1–1440. Default 1.',
    schema: { type: 'integer', minimum: 1, maximum: 1440 },
  },
];

function historyOptions(ctx: RouteContext, queue: string | undefined): StatsHistoryOptions {
  const o: StatsHistoryOptions = {};
  if (queue !== undefined) o.queue = queue;
  const minutes = ctx.query.get('minutes');
  if (minutes !== null) o.minutes = intParam(minutes, 'minutes');
  const bucket = ctx.query.get('bucketMinutes');
  if (bucket !== null) o.bucketMinutes = intParam(bucket, 'bucketMinutes');
  return o;
}

export const statsRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/stats/history',
    operationId: 'statsHistory',
    summary:
      'Throughput and wait-time history of every queue summed, from the per-minute rollup workers write ' +
      '(completed, failed, dead, per second, wait p50/p95). Reads only the rows of the period.',
    tag: 'queues',
    query: HISTORY_QUERY,
    response: ref('StatsHistory'),
    async handle(ctx) {
      return ctx.arbiter.statsHistory(historyOptions(ctx, undefined));
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/stats/history',
    operationId: 'queueStatsHistory',
    summary: "One queue's throughput and wait-time history (as GET /stats/history, for one queue).",
    tag: 'queues',
    query: HISTORY_QUERY,
    response: ref('StatsHistory'),
    async handle(ctx) {
      return ctx.arbiter.statsHistory(historyOptions(ctx, ctx.params.queue ?? ''));
    },
  },
];
