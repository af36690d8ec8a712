import type { Command } from 'commander';
import { action } from '../context.js';
import { date, table } from '../output.js';
import { parseInteger } from '../parse.js';

export function registerGroups(program: Command): void {
  const groups = program.command('groups').description("inspect a queue's groups (per-key FIFO lanes)");

  groups
    .command('list')
    .description(
      'list groups in key order: job count, head, and whether each is blocked, by which job and why',
    )
    .argument('<queue>', 'queue name')
    .option('--limit <n>', 'page size, 1 to 1000', parseInteger, 50)
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .action(
      action(async (ctx, queueName: string, flags: { limit?: number; cursor?: string }) => {
        const page = await (
          await ctx.queue(queueName)
        ).jobs.listGroups({ limit: flags.limit, cursor: flags.cursor ?? null });
        ctx.emit(page, () => {
          const next =
            page.nextCursor === null ? ctx.c.dim('(last page)') : `next page: --cursor ${page.nextCursor}`;
          if (page.items.length === 0) return `${ctx.c.dim('(no groups)')}\n${next}`;
          const body = table(
            page.items,
            [
              { header: 'GROUP', value: (g) => g.groupKey, max: 32 },
              { header: 'JOBS', value: (g) => String(g.jobCount), align: 'right' },
              {
                header: 'STATE',
                value: (g) => g.state,
                color: (s, g) =>
                  g.blocked ? ctx.c.yellow(s) : g.state === 'ready' ? ctx.c.green(s) : ctx.c.dim(s),
              },
              {
                header: 'HEAD',
                value: (g) => (g.head ? `${g.head.id} (${g.head.status})` : '-'),
                align: 'right',
              },
              { header: 'BLOCKED UNTIL', value: (g) => date(g.blockedUntil) },
              { header: 'WHY', value: (g) => g.reason, max: 80 },
            ],
            ctx.c,
          );
          return `${body}\n${next}`;
        });
      }),
    );
}
