import type { OverviewReader } from '../client/overview.js';
import type { Arbiter } from '../client/arbiter.js';
import type { Queue } from '../client/queue.js';
import type { JobId } from '../types.js';
import { HttpError, notFound } from './errors.js';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). Kept loose: the document is data, checked by tests. */
export type JsonSchema = { [key: string]: unknown };

export interface QueryParamDoc {
  name: string;
  description: string;
  schema: JsonSchema;
}

export interface RouteContext {
  arbiter: Arbiter;
  /** Path parameters, still raw text. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when the request had none. */
  body: unknown;
  /** The app's cached overview of every queue (one reading per cache period, shared by all callers). */
  overview: OverviewReader;
}

/**
 * One route: how it is served AND how it is documented. The OpenAPI document is generated from the same
 * list the router is built from, so the two cannot drift apart.
 */
export interface RouteDef {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI path template, e.g. `/queues/{queue}/jobs/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: 'queues' | 'jobs' | 'flows' | 'dead-letters' | 'cron' | 'workers' | 'worker-api' | 'meta';
  query?: readonly QueryParamDoc[];
  /** Request body schema; routes without one take no body (an empty `{}` is tolerated). */
  body?: JsonSchema;
  response: JsonSchema;
  /** Success status. Default 200. */
  status?: 200 | 201;
  /** Only served with `allowClaim: true`. */
  claim?: boolean;
  /** Returns the JSON response body. Throws HttpError / ArbiterError for failures. */
  handle(ctx: RouteContext): Promise<unknown>;
  /** The success response's media type. Default application/json. */
  contentType?: 'text/event-stream';
  /**
   * A server-sent event stream: `handle` runs first (its errors are plain JSON error responses), then
   * each event yielded is sent (null: a keep-alive comment) until the generator ends or the client leaves.
   */
  events?(ctx: RouteContext, signal: AbortSignal): AsyncGenerator<{ event: string; data: unknown } | null>;
}

/** The queue named in the path. The name is validated by the library (400 on a bad identifier). */
export function queueOf(ctx: RouteContext): Queue {
  return ctx.arbiter.queue(ctx.params.queue ?? '');
}

/**
 * Actions return how many jobs changed. 0 is either "no such job" (404) or "not applicable in its
 * current state" (409); one read tells which, so the client gets a precise answer.
 */
export async function changedOr404(
  queue: Queue,
  id: JobId | string,
  changed: number,
  action: string,
): Promise<{ changed: number }> {
  if (changed > 0) return { changed };
  const job = await queue.jobs.get(id);
  if (!job) throw notFound('JOB_NOT_FOUND', `job ${id} is not in queue "${queue.name}"`);
  throw new HttpError(409, 'CONFLICT', `${action} does not apply to job ${id} in status ${job.status}`);
}
