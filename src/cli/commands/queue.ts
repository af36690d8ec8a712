import type { Command } from 'commander';
import { action } from '../context.js';
import { EXIT, notFound, usageError } from '../errors.js';
import { date, table } from '../output.js';
import { registerQueueKeys } from './queue-keys.js';
import { registerQueueLimits } from './queue-limits.js';
import { registerQueueRetention } from './queue-retention.js';

const missing = (name: string) =>
  notFound(`queue "${name}" does not exist`, 'list queues with `arbiter queue list`');

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description(
      'create, list, pause, resume and drop queues; show or change their retention and flow-control limits, per queue and per limit key',
    );

  queue
    .command('create')
    .description('create a queue (idempotent: an existing queue is left as it is)')
    .argument('<name>', 'queue name: lowercase letters, digits and _, starting with a letter')
    .action(
      action(async (ctx, name: string) => {
        const arbiter = await ctx.arbiter();
        const before = (await arbiter.getQueue(name)) !== null;
        await arbiter.createQueue(name);
        ctx.emit({ queue: name, created: !before }, () =>
          before ? `Queue "${name}" already exists.` : `${ctx.c.green('Created')} queue "${name}".`,
        );
      }),
    );

  queue
    .command('list')
    .description('list queues (every queue, or a page of them with --limit / --cursor)')
    .option('--limit <n>', 'at most this many queues, in name order (1 to 1000)')
    .option('--cursor <name>', 'the next page: the cursor printed after the previous one')
    .action(
      action(async (ctx, opts: { limit?: string; cursor?: string }) => {
        const arbiter = await ctx.arbiter();
        const paged = opts.limit !== undefined || opts.cursor !== undefined;
        let nextCursor: string | null = null;
        let queues;
        if (paged) {
          const limit = opts.limit === undefined ? undefined : Number(opts.limit);
          if (limit !== undefined && !Number.isInteger(limit))
            throw usageError(`--limit must be an integer (got "${opts.limit}")`);
          const page = await arbiter.listQueuesPage({ limit, cursor: opts.cursor ?? null });
          queues = page.items;
          nextCursor = page.nextCursor;
        } else queues = await arbiter.listQueues();
        const more = nextCursor === null ? '' : `\n${ctx.c.dim(`(more: --cursor ${nextCursor})`)}`;
        ctx.emit(paged ? { items: queues, nextCursor } : queues, () =>
          queues.length === 0
            ? ctx.c.dim('(no queues; create one with `arbiter queue create <name>`)')
            : table(
                queues,
                [
                  { header: 'NAME', value: (q) => q.name },
                  {
                    header: 'STATE',
                    value: (q) => (q.paused ? 'paused' : 'active'),
                    color: (s, q) => (q.paused ? ctx.c.yellow(s) : ctx.c.green(s)),
                  },
                  { header: 'CREATED', value: (q) => date(q.createdAt) },
                ],
                ctx.c,
              ) + more,
        );
      }),
    );

  for (const verb of ['pause', 'resume'] as const) {
    queue
      .command(verb)
      .description(
        verb === 'pause'
          ? 'stop claims from a queue (enqueue keeps working, in-flight jobs finish)'
          : 'let a paused queue be claimed from again',
      )
      .argument('<name>', 'queue name')
      .action(
        action(async (ctx, name: string) => {
          const arbiter = await ctx.arbiter();
          const ok = verb === 'pause' ? await arbiter.pauseQueue(name) : await arbiter.resumeQueue(name);
          if (!ok) throw missing(name);
          ctx.emit({ queue: name, paused: verb === 'pause' }, () =>
            verb === 'pause' ? `Paused queue "${name}".` : `Resumed queue "${name}".`,
          );
        }),
      );
  }

  registerQueueRetention(queue);
  registerQueueLimits(queue);
  registerQueueKeys(queue);

  queue
    .command('drop')
    .description('drop a queue with all its jobs, dead letters and results')
    .argument('<name>', 'queue name')
    .option('--yes', 'confirm: this deletes every job of the queue')
    .action(
      action(async (ctx, name: string, opts: { yes?: boolean }) => {
        if (!opts.yes) {
          throw usageError(
            `refusing to drop queue "${name}" without --yes`,
            `this deletes every job, dead letter and result of "${name}"`,
          );
        }
        const dropped = await (await ctx.arbiter()).dropQueue(name);
        if (!dropped) throw missing(name);
        ctx.emit({ queue: name, dropped: true }, () => `${ctx.c.red('Dropped')} queue "${name}".`);
        return EXIT.ok;
      }),
    );
}
