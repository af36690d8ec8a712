import type { Command } from 'commander';
import type { QueueStats } from '../../types.js';
import type { Arbiter } from '../../client/arbiter.js';
import { action, type CliContext } from '../context.js';
import { parseInteger } from '../parse.js';
import { date, duration, table } from '../output.js';

interface HistoryFlags {
  history?: boolean;
  minutes: number;
  bucket: number;
}

/** `stats --history`: one row per bucket, oldest first. */
async function printHistory(
  ctx: CliContext,
  arbiter: Arbiter,
  queue: string | undefined,
  opts: HistoryFlags,
): Promise<void> {
  const history = await arbiter.statsHistory({
    ...(queue !== undefined && { queue }),
    minutes: opts.minutes,
    bucketMinutes: opts.bucket,
  });
  const ms = (v: number | null) => (v === null ? '-' : `≤${duration(v)}`);
  ctx.emit(history, () =>
    history.buckets.length === 0
      ? ctx.c.dim(`(no job finished in the last ${history.minutes} min${queue ? ` in ${queue}` : ''})`)
      : table(
          history.buckets,
          [
            { header: 'FROM', value: (b) => date(b.at) },
            { header: 'COMPLETED', value: (b) => String(b.completed), align: 'right' },
            {
              header: 'FAILED',
              value: (b) => String(b.failed),
              align: 'right',
              color: (s, b) => (b.failed > 0 ? ctx.c.red(s) : s),
            },
            { header: 'DEAD', value: (b) => String(b.dead), align: 'right' },
            { header: 'COMPLETED/S', value: (b) => b.completedPerSecond.toFixed(2), align: 'right' },
            { header: 'WAIT P50', value: (b) => ms(b.waitP50Ms), align: 'right' },
            { header: 'WAIT P95', value: (b) => ms(b.waitP95Ms), align: 'right' },
          ],
          ctx.c,
        ),
  );
}

interface QueueStatsRow extends QueueStats {
  queue: string;
  paused: boolean;
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('job counts by state for one queue, or for every queue')
    .argument('[queue]', 'queue name (default: every queue)')
    .option('--history', 'throughput and wait-time history from the per-minute rollup instead of counts')
    .option('--minutes <n>', 'with --history: how far back, 1-10080', parseInteger, 60)
    .option('--bucket <n>', 'with --history: minutes per row, 1-1440', parseInteger, 1)
    .action(
      action(async (ctx, queueName: string | undefined, opts: HistoryFlags) => {
        const arbiter = await ctx.arbiter();
        if (opts.history) return printHistory(ctx, arbiter, queueName, opts);
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
