import type { Command } from 'commander';
import type { QueueStats } from '../../types.js';
import { action } from '../context.js';
import { duration, table } from '../output.js';

interface QueueStatsRow extends QueueStats {
  queue: string;
  paused: boolean;
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('job counts by state for one queue, or for every queue')
    .argument('[queue]', 'queue name (default: every queue)')
    .action(
      action(async (ctx, queueName: string | undefined) => {
        const arbiter = await ctx.arbiter();
        // An unknown queue is reported by the stats call itself (QueueNotFoundError, exit code 3).
        const names =
          queueName === undefined
            ? await arbiter.listQueues()
            : [(await arbiter.getQueue(queueName)) ?? { name: queueName, paused: false }];
        const rows: QueueStatsRow[] = [];
        for (const q of names) {
          rows.push({ queue: q.name, paused: q.paused, ...(await arbiter.queue(q.name).jobs.stats()) });
        }
        ctx.emit(queueName === undefined ? rows : rows[0], () =>
          rows.length === 0
            ? ctx.c.dim('(no queues)')
            : table(
                rows,
                [
                  {
                    header: 'QUEUE',
                    value: (r) => (r.paused ? `${r.queue} (paused)` : r.queue),
                    color: (s, r) => (r.paused ? ctx.c.yellow(s) : s),
                  },
                  { header: 'TOTAL', value: (r) => String(r.total), align: 'right' },
                  { header: 'READY', value: (r) => String(r.ready), align: 'right' },
                  { header: 'IN FLIGHT', value: (r) => String(r.inFlight), align: 'right' },
                  { header: 'SCHEDULED', value: (r) => String(r.scheduled), align: 'right' },
                  { header: 'RETRYING', value: (r) => String(r.retrying), align: 'right' },
                  { header: 'SUSPENDED', value: (r) => String(r.suspended), align: 'right' },
                  {
                    header: 'DEAD',
                    value: (r) => String(r.dead),
                    align: 'right',
                    color: (s, r) => (r.dead > 0 ? ctx.c.red(s) : s),
                  },
                  { header: 'GROUPS', value: (r) => String(r.groups), align: 'right' },
                  {
                    header: 'OLDEST READY',
                    value: (r) =>
                      r.oldestReadyAgeSeconds === null ? '-' : duration(r.oldestReadyAgeSeconds * 1000),
                    align: 'right',
                  },
                ],
                ctx.c,
              ),
        );
      }),
    );
}
