import { badRequest, HttpError, notFound } from './errors.js';
import { checkBodyKeys, jobFilterParams, objectBody, pageParams } from './params.js';
import { changedOr404, queueOf, type RouteContext, type RouteDef } from './route.js';
import { ref } from './schema-parts.js';
import { JOB_LIST_QUERY, PAGE_QUERY } from './query-docs.js';

const jobId = (ctx: RouteContext): string => ctx.params.id ?? '';

/**
 * The most ids one bulk request (cancel, promote, suspend, resume, dead-letter retry, dead-letter delete) may carry. Lower than the
 * library's 10,000 so one request holds its transaction's locks briefly; documented in docs/http.md and
 * as maxItems of `Ids` in the OpenAPI document.
 */
export const MAX_BULK_IDS = 1000;

/** The `ids` of a bulk request: an array of at most MAX_BULK_IDS (each id is validated by the library). */
export function idsBody(ctx: RouteContext): unknown[] {
  const body = objectBody(ctx.body);
  checkBodyKeys(body, ['ids']);
  if (!Array.isArray(body.ids)) throw badRequest('ids', 'must be an array of job ids');
  if (body.ids.length > MAX_BULK_IDS) {
    throw new HttpError(400, 'BATCH_TOO_LARGE', `ids: at most ${MAX_BULK_IDS} ids per request`, 'ids');
  }
  return body.ids;
}

type JobAction = 'cancel' | 'cancelCascade' | 'promote' | 'suspend' | 'resume';
const ACTIONS: [JobAction, string, string][] = [
  ['cancel', 'cancel', 'Deletes a job (409 when it has children: use cancel-cascade).'],
  ['cancelCascade', 'cancel-cascade', 'Deletes a job and all its descendants.'],
  ['promote', 'promote', 'Makes a delayed or retrying job claimable now.'],
  ['suspend', 'suspend', 'Makes a job unclaimable until resumed.'],
  ['resume', 'resume', 'Lifts a suspension.'],
];

export const jobRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/queues/{queue}/jobs',
    operationId: 'listJobs',
    summary: 'Live jobs matching every given filter, newest first (keyset pagination).',
    tag: 'jobs',
    query: JOB_LIST_QUERY,
    response: ref('JobPage'),
    async handle(ctx) {
      const filter = jobFilterParams(ctx.query, false);
      return queueOf(ctx).jobs.list({ filter, ...pageParams(ctx.query) });
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}',
    operationId: 'getJob',
    summary: 'One live job.',
    tag: 'jobs',
    response: ref('Job'),
    async handle(ctx) {
      const q = queueOf(ctx);
      const job = await q.jobs.get(jobId(ctx));
      if (!job) throw notFound('JOB_NOT_FOUND', `job ${jobId(ctx)} is not in queue "${q.name}"`);
      return job;
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/why',
    operationId: 'whyJob',
    summary:
      "Why the job is or is not running: every reason in order (the queue paused; the job's own state; " +
      "what holds its group, and that job's reasons; no live worker). A dead-lettered job is explained too.",
    tag: 'jobs',
    response: ref('JobExplanation'),
    async handle(ctx) {
      const q = queueOf(ctx);
      const answer = await q.jobs.why(jobId(ctx));
      if (!answer) throw notFound('JOB_NOT_FOUND', `job ${jobId(ctx)} is not in queue "${q.name}"`);
      return answer;
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/children',
    operationId: 'jobChildren',
    summary: "A job's children still in the queue, with the results and errors of those that finished.",
    tag: 'jobs',
    query: PAGE_QUERY,
    response: {
      allOf: [
        ref('JobPage'),
        {
          type: 'object',
          properties: {
            results: { type: 'object', description: 'Child id → result it was acked with.' },
            deadChildErrors: {
              type: 'object',
              description: 'Child job id → last error (dead-lettered children).',
            },
            snapshot: { description: 'parent_state snapshot, or null.' },
          },
        },
      ],
    },
    async handle(ctx) {
      const q = queueOf(ctx);
      const id = jobId(ctx);
      const page = await q.jobs.list({ filter: { parentId: id }, ...pageParams(ctx.query) });
      const outcomes = await q.results.readChildOutcomesRaw(id);
      // A finished parent has left the table; only then is an empty answer really "no such job".
      if (page.items.length === 0 && outcomes.results.size === 0 && !(await q.jobs.get(id))) {
        throw notFound('JOB_NOT_FOUND', `job ${id} is not in queue "${q.name}"`);
      }
      return {
        ...page,
        results: Object.fromEntries(outcomes.results),
        deadChildErrors: Object.fromEntries(outcomes.dlqErrors),
        snapshot: outcomes.snapshot,
      };
    },
  },
  ...ACTIONS.map(([method, segment, summary]): RouteDef => ({
    method: 'post',
    path: `/queues/{queue}/jobs/{id}/${segment}`,
    operationId: `${method}Job`,
    summary,
    tag: 'jobs',
    response: ref('Changed'),
    async handle(ctx) {
      const q = queueOf(ctx);
      const id = jobId(ctx);
      return changedOr404(q, id, await q.jobs[method](id), segment);
    },
  })),
  {
    method: 'post',
    path: '/queues/{queue}/jobs/cancel',
    operationId: 'cancelJobs',
    summary: 'Cancels up to 1,000 jobs in one transaction (jobs with children are skipped).',
    tag: 'jobs',
    body: ref('Ids'),
    response: ref('Changed'),
    async handle(ctx) {
      return { changed: await queueOf(ctx).jobs.cancelMany(idsBody(ctx) as string[]) };
    },
  },
  ...(
    [
      [
        'promoteMany',
        'promote',
        'Makes up to 1,000 delayed or retrying jobs claimable now, in one transaction.',
      ],
      [
        'suspendMany',
        'suspend',
        'Suspends up to 1,000 jobs in one transaction (in-flight ones are skipped).',
      ],
      [
        'resumeMany',
        'resume',
        'Resumes up to 1,000 suspended jobs in one transaction (waiting parents are skipped).',
      ],
    ] as const
  ).map(([method, segment, summary]): RouteDef => ({
    method: 'post',
    path: `/queues/{queue}/jobs/${segment}`,
    operationId: `${segment}Jobs`,
    summary,
    tag: 'jobs',
    body: ref('Ids'),
    response: ref('Changed'),
    async handle(ctx) {
      return { changed: await queueOf(ctx).jobs[method](idsBody(ctx) as string[]) };
    },
  })),
];
