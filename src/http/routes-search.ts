import type { SearchOptions } from '../client/search.js';
import { badRequest } from './errors.js';
import { intParam } from './params.js';
import type { RouteDef } from './route.js';

const str = { type: 'string' };

export const searchRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/search',
    operationId: 'search',
    summary:
      'Finds jobs across queues (live, kept history, dead letters): by id through each table\u2019s index ' +
      '(complete), or by payload containment and/or error text in an explicit bounded scan of the newest ' +
      '`scan` rows of each table. Newest first.',
    tag: 'jobs',
    query: [
      { name: 'id', description: 'A job id (index probes, no scan).', schema: str },
      { name: 'payload', description: 'JSON object the payload must contain (PostgreSQL @>).', schema: str },
      { name: 'error', description: 'Text the last error contains, case-insensitive.', schema: str },
      { name: 'queue', description: 'One queue (default every queue).', schema: str },
      {
        name: 'scan',
        description: 'Newest rows read per table without id, 1–100000. Default 1000.',
        schema: { type: 'integer', minimum: 1, maximum: 100000 },
      },
      { name: 'limit', description: 'Most matches, 1–500. Default 50.', schema: { type: 'integer' } },
    ],
    response: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              queue: str,
              source: { enum: ['job', 'history', 'dead-letter'] },
              id: str,
              deadLetterId: { oneOf: [str, { type: 'null' }] },
              payload: {},
              lastError: { oneOf: [str, { type: 'null' }] },
              at: { type: 'string', format: 'date-time' },
            },
          },
        },
        mode: { enum: ['index', 'scan'] },
        scanned: { oneOf: [{ type: 'integer' }, { type: 'null' }] },
        queuesSearched: { type: 'integer' },
        queuesTotal: { type: 'integer' },
        truncated: { type: 'boolean' },
      },
    },
    async handle(ctx) {
      const o: SearchOptions = {};
      const get = (k: string) => ctx.query.get(k) ?? undefined;
      if (get('id') !== undefined) o.id = get('id');
      if (get('error') !== undefined) o.error = get('error');
      if (get('queue') !== undefined) o.queue = get('queue');
      const payload = get('payload');
      if (payload !== undefined) {
        try {
          o.payload = JSON.parse(payload) as Record<string, unknown>;
        } catch {
          throw badRequest('payload', 'must be a JSON object');
        }
      }
      const scan = get('scan');
      if (scan !== undefined) o.scan = intParam(scan, 'scan');
      const limit = get('limit');
      if (limit !== undefined) o.limit = intParam(limit, 'limit');
      return ctx.arbiter.search(o);
    },
  },
];
