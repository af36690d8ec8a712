import type { Command } from 'commander';
import type { Queue } from '../../client/queue.js';
import type { DeadJobFilter } from '../../types.js';
import { action, type CliContext } from '../context.js';
import { EXIT, notFound, usageError, type ExitCode } from '../errors.js';
import { addFilterOptions, toFilter, type FilterOptions } from '../filters.js';
import { Progress } from '../output.js';
import { parseInteger } from '../parse.js';
import { deadDetail, deadTable } from '../render.js';
import { attemptsText } from './jobs-report.js';

interface BulkFlags extends FilterOptions {
  all?: boolean;
  yes?: boolean;
}

/** Dead letters read per page during --all (each page is retried or deleted in one transaction). */
const PAGE = 500;

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('inspect, retry and delete dead letters');

  addFilterOptions(
    dlq
      .command('list')
      .description('list dead letters, most recently failed first')
      .argument('<queue>', 'queue name'),
    'dlq',
  )
    .option('--limit <n>', 'page size, 1 to 1000', parseInteger, 50)
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .action(
      action(async (ctx, queueName: string, flags: FilterOptions & { limit?: number; cursor?: string }) => {
        const page = await (
          await ctx.queue(queueName)
        ).dlq.list({
          filter: toFilter(flags, 'dlq'),
          limit: flags.limit,
          cursor: flags.cursor ?? null,
        });
        ctx.emit(page, () => {
          const next =
            page.nextCursor === null ? ctx.c.dim('(last page)') : `next page: --cursor ${page.nextCursor}`;
          return `${deadTable(page.items, ctx.c)}\n${next}`;
        });
      }),
    );

  dlq
    .command('get')
    .description('show one dead letter (by its dead-letter id, the ID column of `dlq list`)')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'dead-letter id')
    .action(
      action(async (ctx, queueName: string, id: string) => {
        const queue = await ctx.queue(queueName);
        const dead = await queue.dlq.get(id);
        if (dead === null) throw notFound(`dead letter ${id} not found in queue "${queueName}"`);
        // Text only: the JSON stays the dead letter (its attempts: `jobs show QUEUE JOB_ID --json`).
        const attempts = ctx.json ? [] : await queue.jobs.attempts(dead.jobId);
        ctx.emit(dead, () => `${deadDetail(dead, ctx.c)}\n${attemptsText(attempts, ctx.c)}`);
      }),
    );

  for (const verb of ['retry', 'delete'] as const) {
    addFilterOptions(
      dlq
        .command(verb)
        .description(
          verb === 'retry'
            ? 'put dead letters back in the queue as new jobs (attempts reset)'
            : 'delete dead letters for good',
        )
        .argument('<queue>', 'queue name')
        .argument('[ids...]', 'dead-letter ids (the ID column of `dlq list`)')
        .option('--all', 'every dead letter matching the filter options (all of them without filters)')
        .option('--yes', 'confirm a bulk operation (--all)'),
      'dlq',
    ).action(
      action(async (ctx, queueName: string, ids: string[], flags: BulkFlags) => {
        const queue = await ctx.queue(queueName);
        if (flags.all) {
          if (ids.length > 0) throw usageError('give ids or --all, not both');
          return bulk(ctx, queue, verb, toFilter(flags, 'dlq'), flags.yes === true);
        }
        if (ids.length === 0) throw usageError(`give dead-letter ids to ${verb}, or --all`);
        const filter = toFilter(flags, 'dlq');
        if (Object.keys(filter).length > 0) throw usageError('filter options only apply with --all');
        return byIds(ctx, queue, verb, ids);
      }),
    );
  }
}

async function byIds(
  ctx: CliContext,
  queue: Queue,
  verb: 'retry' | 'delete',
  ids: string[],
): Promise<ExitCode> {
  const done: { id: string; jobId?: string }[] = [];
  const missing: string[] = [];
  if (verb === 'retry') {
    // One transaction for all of them: every id is validated first, and they all come back or none does.
    const result = await queue.dlq.retryMany(ids);
    for (const r of result.retried) done.push({ id: r.id, jobId: r.job.id });
    missing.push(...result.missing);
  } else {
    for (const id of ids) {
      if ((await queue.dlq.delete(id)) === 0) missing.push(id);
      else done.push({ id });
    }
  }
  ctx.emit({ queue: queue.name, action: verb, done, missing }, () => {
    const lines = done.map((d) =>
      verb === 'retry' ? `Retried dead letter ${d.id} as job ${d.jobId}.` : `Deleted dead letter ${d.id}.`,
    );
    for (const id of missing) lines.push(ctx.c.red(`Dead letter ${id} not found.`));
    return lines.join('\n');
  });
  return missing.length > 0 ? EXIT.notFound : EXIT.ok;
}

/**
 * Walks the matching dead letters page by page (keyset: letters that fail again re-enter the table ahead
 * of the cursor, so the walk always ends) and retries or deletes each page.
 */
async function bulk(
  ctx: CliContext,
  queue: Queue,
  verb: 'retry' | 'delete',
  filter: DeadJobFilter,
  yes: boolean,
): Promise<ExitCode> {
  const total = await queue.dlq.count(filter);
  if (!yes) {
    throw usageError(
      `refusing to ${verb} ${total} dead letter${total === 1 ? '' : 's'} of "${queue.name}" without --yes`,
      'review them first with `arbiter dlq list`',
    );
  }
  const progress = new Progress(verb === 'retry' ? 'retry ' : 'delete', total, ctx.json);
  let done = 0;
  let missed = 0;
  let cursor: string | null = null;
  do {
    const page = await queue.dlq.list({ filter, limit: PAGE, cursor });
    cursor = page.nextCursor;
    const ids = page.items.map((d) => d.id);
    const n =
      verb === 'delete' ? await queue.dlq.deleteMany(ids) : (await queue.dlq.retryMany(ids)).retried.length;
    done += n;
    missed += ids.length - n;
    progress.add(ids.length);
  } while (cursor !== null);
  progress.finish();
  const summary = { queue: queue.name, action: verb, matched: total, done, skipped: missed };
  ctx.emit(summary, () => {
    const past = verb === 'retry' ? 'Retried' : 'Deleted';
    const skipped = missed > 0 ? ` (${missed} already gone)` : '';
    return `${ctx.c.green(past)} ${done} dead letter${done === 1 ? '' : 's'} of "${queue.name}"${skipped}.`;
  });
  return EXIT.ok;
}
