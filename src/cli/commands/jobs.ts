import type { Command } from 'commander';
import type { Queue } from '../../client/queue.js';
import type { Job } from '../../types.js';
import { action } from '../context.js';
import { CliError, EXIT, jobNotFound } from '../errors.js';
import { addFilterOptions, toFilter, type FilterOptions } from '../filters.js';
import { parseInteger } from '../parse.js';
import { jobDetail, jobsTable, whyText } from '../render.js';
import { registerJobReports } from './jobs-report.js';
import { registerJobResult } from './flows.js';

interface ListFlags extends FilterOptions {
  limit?: number;
  cursor?: string;
}

/** Why an action changed nothing, from the job's current status. */
const NOT_APPLICABLE: Record<string, string> = {
  cancel: 'it has children (use --cascade to cancel it with its descendants)',
  promote: 'only scheduled or retrying jobs that are not in flight can be promoted',
  suspend: 'in-flight and already suspended jobs cannot be suspended',
  resume: 'only suspended jobs can be resumed (a parent waiting for its children resumes by itself)',
};

type Verb = 'cancel' | 'promote' | 'suspend' | 'resume';

const DESCRIPTIONS: Record<Verb, string> = {
  cancel: 'delete a job (its worker, if any, is fenced off); --cascade also deletes its descendants',
  promote: 'make a delayed or retrying job claimable now',
  suspend: 'make a job unclaimable until resumed',
  resume: 'lift a suspension',
};

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('inspect and act on live jobs');

  addFilterOptions(
    jobs
      .command('list')
      .description('list jobs, newest first, with filters and cursor pagination')
      .argument('<queue>', 'queue name'),
    'jobs',
  )
    .option('--limit <n>', 'page size, 1 to 1000', parseInteger, 50)
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .action(
      action(async (ctx, queueName: string, flags: ListFlags) => {
        const queue = await ctx.queue(queueName);
        const page = await queue.jobs.list({
          filter: toFilter(flags, 'jobs'),
          limit: flags.limit,
          cursor: flags.cursor ?? null,
        });
        ctx.emit(page, () => {
          const next =
            page.nextCursor === null ? ctx.c.dim('(last page)') : `next page: --cursor ${page.nextCursor}`;
          return `${jobsTable(page.items, ctx.c)}\n${next}`;
        });
      }),
    );

  jobs
    .command('get')
    .description('show one job')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'job id')
    .action(
      action(async (ctx, queueName: string, id: string) => {
        const job = await (await ctx.queue(queueName)).jobs.get(id);
        if (job === null) throw jobNotFound(queueName, id);
        ctx.emit(job, () => jobDetail(job, ctx.c));
      }),
    );

  jobs
    .command('why')
    .description("why a job is or is not running: every reason in order (as the dashboard's job page)")
    .argument('<queue>', 'queue name')
    .argument('<id>', 'job id')
    .action(
      action(async (ctx, queueName: string, id: string) => {
        const answer = await (await ctx.queue(queueName)).jobs.why(id);
        if (answer === null) throw jobNotFound(queueName, id);
        ctx.emit(answer, () => whyText(answer, id, ctx.c));
      }),
    );

  registerJobReports(jobs);
  registerJobResult(jobs);

  for (const verb of ['cancel', 'promote', 'suspend', 'resume'] as const) {
    const cmd = jobs
      .command(verb)
      .description(DESCRIPTIONS[verb])
      .argument('<queue>', 'queue name')
      .argument('<id>', 'job id');
    if (verb === 'cancel') cmd.option('--cascade', 'also delete every descendant of the job');
    cmd.action(
      action(async (ctx, queueName: string, id: string, flags: { cascade?: boolean }) => {
        const queue = await ctx.queue(queueName);
        // Only to word the answer: a job running when cancelled is stopped by its worker.
        const wasRunning = verb === 'cancel' && (await queue.jobs.get(id))?.status === 'in-flight';
        const changed = await runVerb(queue, verb, id, flags.cascade === true);
        if (changed === 0) return explainNoop(queue, verb, id);
        ctx.emit({ queue: queueName, id, action: verb, changed }, () => {
          const what = verb === 'cancel' && changed > 1 ? ` (${changed} jobs with its descendants)` : '';
          const stop = wasRunning ? ' It was running: its worker aborts the handler now.' : '';
          return `${ctx.c.green(pastTense(verb))} job ${id}${what}.${stop}`;
        });
      }),
    );
  }
}

function runVerb(queue: Queue, verb: Verb, id: string, cascade: boolean): Promise<number> {
  switch (verb) {
    case 'cancel':
      return cascade ? queue.jobs.cancelCascade(id) : queue.jobs.cancel(id);
    case 'promote':
      return queue.jobs.promote(id);
    case 'suspend':
      return queue.jobs.suspend(id);
    case 'resume':
      return queue.jobs.resume(id);
  }
}

async function explainNoop(queue: Queue, verb: Verb, id: string): Promise<never> {
  const job: Job | null = await queue.jobs.get(id);
  if (job === null) throw jobNotFound(queue.name, id);
  throw new CliError(
    `job ${id} is ${job.status}: nothing changed`,
    EXIT.failure,
    NOT_APPLICABLE[verb],
    'NOT_APPLICABLE',
  );
}

function pastTense(verb: Verb): string {
  return { cancel: 'Cancelled', promote: 'Promoted', suspend: 'Suspended', resume: 'Resumed' }[verb];
}
