import type { Command } from 'commander';
import { action } from '../context.js';
import { EXIT, notFound, usageError } from '../errors.js';
import { date, table } from '../output.js';
import { registerQueueLimits } from './queue-limits.js';
import { registerQueueRetention } from './queue-retention.js';

const missing = (name: string) =>
  notFound(`queue "${name}" does not exist`, 'list queues with `arbiter queue list`');

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description(
      'create, list, pause, resume and drop queues; show or change their retention and flow-control limits',
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
    .description('list queues')
    .action(
      action(async (ctx) => {
        const queues = await (await ctx.arbiter()).listQueues();
        ctx.emit(queues, () =>
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
              ),
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
