import type { Command } from 'commander';
import { action } from '../context.js';
import { date, duration, table } from '../output.js';

export function registerWorkers(program: Command): void {
  program
    .command('workers')
    .description(
      'list registered worker processes: what each runs now (per queue, running/concurrency), heartbeats',
    )
    .action(
      action(async (ctx) => {
        const arbiter = await ctx.arbiter();
        const workers = await arbiter.listWorkers();
        const now = Date.now();
        ctx.emit(
          workers.map((w) => ({
            ...w,
            heartbeatAgeSeconds: Math.max(0, (now - w.lastHeartbeat.getTime()) / 1000),
          })),
          () =>
            workers.length === 0
              ? ctx.c.dim('(no workers registered)')
              : table(
                  workers,
                  [
                    { header: 'ID', value: (w) => w.id, max: 40 },
                    { header: 'HOST', value: (w) => w.hostname, max: 30 },
                    { header: 'PID', value: (w) => String(w.pid), align: 'right' },
                    {
                      header: 'QUEUES (RUNNING/CONCURRENCY)',
                      value: (w) =>
                        w.info
                          ? w.info.queues.map((q) => `${q.name} ${q.running}/${q.concurrency}`).join(', ')
                          : w.queues.join(','),
                      max: 60,
                    },
                    {
                      header: 'RUNNING',
                      value: (w) =>
                        w.info
                          ? `${w.info.running}/${w.info.concurrency}` +
                            (w.info.prefetched > 0 ? ` +${w.info.prefetched} prefetched` : '')
                          : '-',
                      align: 'right',
                    },
                    { header: 'STARTED', value: (w) => date(w.startedAt) },
                    {
                      header: 'LAST HEARTBEAT',
                      value: (w) => `${duration(Math.max(0, now - w.lastHeartbeat.getTime()))} ago`,
                      align: 'right',
                    },
                  ],
                  ctx.c,
                ),
        );
      }),
    );
}
