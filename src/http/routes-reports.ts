import type { Job, JobReport } from '../types.js';
import { notFound } from './errors.js';
import { queueOf, type RouteContext, type RouteDef } from './route.js';
import { nullable, ref } from './schema-parts.js';

const jobId = (ctx: RouteContext): string => ctx.params.id ?? '';

/** How often a job's event stream looks at the job and its report. */
export const JOB_EVENTS_POLL_MS = 1000;
/** A job's event stream ends after this long; EventSource (and the dashboard) reconnect by themselves. */
export const JOB_EVENTS_MAX_MS = 5 * 60_000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/** One server-sent event: its name and JSON data. */
export interface ServerEvent {
  event: string;
  data: unknown;
}

async function readBoth(ctx: RouteContext): Promise<{ job: Job | null; report: JobReport | null }> {
  const q = queueOf(ctx);
  const [job, report] = await Promise.all([q.jobs.get(jobId(ctx)), q.jobs.report(jobId(ctx))]);
  return { job, report };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * A job's live events: `job` (the job as GET /jobs/{id} returns it, or null once it left the queue) and
 * `report` (as GET /jobs/{id}/report), each sent first and then whenever it changes; `end` when the job
 * has left the queue. Two primary-key reads per poll.
 */
export async function* jobEvents(
  ctx: RouteContext,
  signal: AbortSignal,
  pollMs = JOB_EVENTS_POLL_MS,
): AsyncGenerator<ServerEvent | null> {
  const started = Date.now();
  let lastJob: string | undefined;
  let lastReport: string | undefined;
  let quietSince = Date.now();
  while (!signal.aborted && Date.now() - started < JOB_EVENTS_MAX_MS) {
    const { job, report } = await readBoth(ctx);
    const jobText = JSON.stringify(job);
    const reportText = JSON.stringify(report);
    if (reportText !== lastReport) {
      lastReport = reportText;
      quietSince = Date.now();
      yield { event: 'report', data: report };
    }
    if (jobText !== lastJob) {
      lastJob = jobText;
      quietSince = Date.now();
      yield { event: 'job', data: job };
    }
    if (job === null) {
      yield { event: 'end', data: null };
      return;
    }
    if (Date.now() - quietSince >= KEEPALIVE_MS) {
      quietSince = Date.now();
      yield null; // a keep-alive comment
    }
    await pause(pollMs, signal);
  }
}

export const reportRoutes: RouteDef[] = [
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/attempts',
    operationId: 'jobAttempts',
    summary:
      'Every failed attempt of the job (error, worker, start, duration), oldest first, the newest 100. ' +
      'Also for a dead-lettered job (its job id) and a job that finished after retries, until retention.',
    tag: 'jobs',
    response: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('JobAttempt'), maxItems: 100 } },
    },
    async handle(ctx) {
      const q = queueOf(ctx);
      const items = await q.jobs.attempts(jobId(ctx));
      // The attempts table is schema-wide: without rows, a job read tells an unknown queue (404).
      if (items.length === 0) await q.jobs.get(jobId(ctx));
      return { items };
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/report',
    operationId: 'jobReport',
    summary:
      'What the job reported while running (ctx.progress, ctx.setMeta, ctx.log): its last progress, ' +
      'merged metadata and newest log lines. Kept after the job finished, until retention prunes it.',
    tag: 'jobs',
    response: {
      type: 'object',
      required: ['report'],
      properties: { report: { ...nullable(ref('JobReport')), description: 'Null: never reported.' } },
    },
    async handle(ctx) {
      const q = queueOf(ctx);
      const report = await q.jobs.report(jobId(ctx));
      // The report table is schema-wide: without a report, a job read tells an unknown queue (404).
      if (!report) await q.jobs.get(jobId(ctx));
      return { report };
    },
  },
  {
    method: 'get',
    path: '/queues/{queue}/jobs/{id}/events',
    operationId: 'jobEvents',
    summary:
      'Server-sent events of one job: `job` (the job, null once it left the queue) and `report` (as ' +
      '/report returns it), first as they are and then on each change (looked at every second); `end` ' +
      'once the job left the queue. A stream lasts at most 5 minutes: reconnect to go on.',
    tag: 'jobs',
    contentType: 'text/event-stream',
    response: { type: 'string', description: 'text/event-stream; each data line is JSON.' },
    async handle(ctx) {
      const { job, report } = await readBoth(ctx);
      const q = queueOf(ctx);
      if (!job && !report) throw notFound('JOB_NOT_FOUND', `job ${jobId(ctx)} is not in queue "${q.name}"`);
      return null;
    },
    events: jobEvents,
  },
];
