import type { JobExplanation } from '../client/why.js';
import type { DeadJob, Job, JobStatus } from '../types.js';
import { date, fields, table, type Colors } from './output.js';

function statusColor(c: Colors, status: JobStatus): (s: string) => string {
  switch (status) {
    case 'in-flight':
      return c.cyan;
    case 'ready':
      return c.green;
    case 'retrying':
    case 'exhausted':
      return c.yellow;
    case 'dead':
      return c.red;
    default:
      return c.dim;
  }
}

export function jobsTable(jobs: readonly Job[], c: Colors): string {
  if (jobs.length === 0) return c.dim('(no jobs)');
  return table(
    jobs,
    [
      { header: 'ID', value: (j) => j.id, align: 'right' },
      { header: 'STATUS', value: (j) => j.status, color: (s, j) => statusColor(c, j.status)(s) },
      { header: 'GROUP', value: (j) => j.groupKey ?? '-', max: 24 },
      { header: 'PRI', value: (j) => String(j.priority), align: 'right' },
      { header: 'ATTEMPTS', value: (j) => `${j.attempts}/${j.maxAttempts}`, align: 'right' },
      { header: 'RUN AT', value: (j) => date(j.runAt) },
      { header: 'PAYLOAD', value: (j) => JSON.stringify(j.payload), max: 40 },
      { header: 'LAST ERROR', value: (j) => j.lastError ?? '', max: 40, color: (s) => c.red(s) },
    ],
    c,
  );
}

export function deadTable(jobs: readonly DeadJob[], c: Colors): string {
  if (jobs.length === 0) return c.dim('(no dead letters)');
  return table(
    jobs,
    [
      { header: 'ID', value: (j) => j.id, align: 'right' },
      { header: 'JOB ID', value: (j) => j.jobId, align: 'right' },
      { header: 'GROUP', value: (j) => j.groupKey ?? '-', max: 24 },
      // Attempts made: the job's own maxAttempts may not be what ended it (a worker's queue setting can cap it).
      { header: 'ATTEMPTS', value: (j) => String(j.attempts), align: 'right' },
      { header: 'FAILED AT', value: (j) => date(j.failedAt) },
      { header: 'PAYLOAD', value: (j) => JSON.stringify(j.payload), max: 40 },
      { header: 'LAST ERROR', value: (j) => j.lastError ?? '', max: 50, color: (s) => c.red(s) },
    ],
    c,
  );
}

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function jobDetail(j: Job, c: Colors): string {
  const rows: [string, string][] = [
    ['id', j.id],
    ['queue', j.queue],
    ['status', statusColor(c, j.status)(j.status)],
    ['group', j.groupKey ?? '-'],
    ['priority', String(j.priority)],
    ['attempts', `${j.attempts} of ${j.maxAttempts}`],
    ['run at', date(j.runAt)],
    ['leased until', date(j.leasedUntil)],
    ['worker', j.workerId ?? '-'],
    ['parent', j.parentId ?? '-'],
    ['rollup', j.isRollup ? 'yes' : 'no'],
    ['suspended', j.suspended ? 'yes' : 'no'],
    ['dedup key', j.dedupKey ?? '-'],
    ['idempotency key', j.idempotencyKey ?? '-'],
    ['limit key', j.limitKey ?? '-'],
    ['created', date(j.createdAt)],
    ['updated', date(j.updatedAt)],
    ['last error', j.lastError === null ? '-' : c.red(j.lastError)],
  ];
  if (j.meta !== null) rows.push(['meta', pretty(j.meta)]);
  return `${fields(rows, c)}\n${c.dim('payload:')}\n${pretty(j.payload)}`;
}

export function deadDetail(j: DeadJob, c: Colors): string {
  const rows: [string, string][] = [
    ['id', j.id],
    ['job id', j.jobId],
    ['queue', j.queue],
    ['status', c.red('dead')],
    ['group', j.groupKey ?? '-'],
    ['priority', String(j.priority)],
    ['attempts made', String(j.attempts)],
    ['parent', j.parentId ?? '-'],
    ['dedup key', j.dedupKey ?? '-'],
    ['idempotency key', j.idempotencyKey ?? '-'],
    ['limit key', j.limitKey ?? '-'],
    ['created', date(j.createdAt)],
    ['failed', date(j.failedAt)],
    ['last error', j.lastError === null ? '-' : c.red(j.lastError)],
  ];
  if (j.meta !== null) rows.push(['meta', pretty(j.meta)]);
  return `${fields(rows, c)}\n${c.dim('payload:')}\n${pretty(j.payload)}`;
}

/** `jobs why`: a headline, then every reason in order, each with its code. */
export function whyText(e: JobExplanation, id: string, c: Colors): string {
  const state = e.job ? statusColor(c, e.job.status)(e.job.status) : c.red('dead');
  const queue = e.job?.queue ?? e.deadLetter?.queue ?? '';
  const head = `job ${id} (${state}) in queue "${queue}": ${e.ok ? c.green('nothing stands in its way') : 'not running, because'}`;
  const width = Math.max(...e.reasons.map((r) => r.code.length));
  const lines = e.reasons.map((r) => `  ${c.dim(r.code.padEnd(width))}  ${r.text}`);
  return [head, ...lines].join('\n');
}
