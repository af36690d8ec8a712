import type { Command } from 'commander';
import type { SearchOptions } from '../../client/search.js';
import { action } from '../context.js';
import { date, table } from '../output.js';
import { parseInteger, parseJson } from '../parse.js';

interface SearchFlags {
  id?: string;
  payload?: Record<string, unknown>;
  error?: string;
  queue?: string;
  scan?: number;
  limit?: number;
}

/** `arbiter search`: jobs across queues by id, payload or error text. */
export function registerSearch(program: Command): void {
  program
    .command('search')
    .description(
      'find jobs across queues (live, kept history, dead letters): by --id through the indexes, or by ' +
        '--payload / --error in a bounded scan of the newest --scan rows of each table',
    )
    .option('--id <id>', 'a job id (index probes: complete, whatever the table sizes)')
    .option(
      '--payload <json>',
      'JSON object the payload contains, e.g. \'{"customer":{"id":"c-1"}}\'',
      parseJson,
    )
    .option('--error <text>', 'text the last error contains (case-insensitive)')
    .option('--queue <queue>', 'one queue (default every queue)')
    .option('--scan <n>', 'newest rows read per table without --id, 1-100000 (default 1000)', parseInteger)
    .option('--limit <n>', 'most matches, 1-500 (default 50)', parseInteger)
    .action(
      action(async (ctx, flags: SearchFlags) => {
        const arbiter = await ctx.arbiter();
        const options: SearchOptions = {};
        for (const k of ['id', 'payload', 'error', 'queue', 'scan', 'limit'] as const) {
          if (flags[k] !== undefined) (options as Record<string, unknown>)[k] = flags[k];
        }
        const result = await arbiter.search(options);
        const note =
          result.mode === 'scan'
            ? `searched the newest ${result.scanned} rows of each table of ${result.queuesSearched} of ${result.queuesTotal} queue(s)`
            : `searched ${result.queuesSearched} of ${result.queuesTotal} queue(s) by id`;
        ctx.emit(result, () =>
          [
            result.items.length === 0
              ? ctx.c.dim('(no match)')
              : table(
                  result.items,
                  [
                    { header: 'QUEUE', value: (h) => h.queue, max: 30 },
                    { header: 'WHERE', value: (h) => h.source },
                    { header: 'JOB', value: (h) => h.id, align: 'right' },
                    { header: 'AT', value: (h) => date(h.at) },
                    { header: 'PAYLOAD', value: (h) => JSON.stringify(h.payload), max: 50 },
                    { header: 'LAST ERROR', value: (h) => h.lastError ?? '', max: 50 },
                  ],
                  ctx.c,
                ),
            ctx.c.dim(note + (result.truncated ? '; stopped at --limit, more may match' : '')),
          ].join('\n'),
        );
      }),
    );
}
