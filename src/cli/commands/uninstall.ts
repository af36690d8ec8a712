import type { Command } from 'commander';
import { action } from '../context.js';
import { EXIT, usageError } from '../errors.js';

export function registerUninstall(program: Command): void {
  program
    .command('uninstall')
    .description("remove Arbiter's schema and everything in it, in short transactions (any number of queues)")
    .option('--yes', 'confirm: this deletes every queue, job, dead letter and schedule of the schema')
    .option('--force', 'even while workers are running (they fail until stopped)')
    .option('--batch <n>', 'queues dropped per transaction (1 to 100)', '10')
    .action(
      action(async (ctx, opts: { yes?: boolean; force?: boolean; batch: string }) => {
        if (!opts.yes) {
          throw usageError(
            `refusing to uninstall schema "${ctx.schema}" without --yes`,
            'this deletes every queue, job, dead letter and schedule in it',
          );
        }
        const batch = Number(opts.batch);
        if (!Number.isInteger(batch) || batch < 1 || batch > 100)
          throw usageError(`--batch must be an integer from 1 to 100 (got "${opts.batch}")`);
        const arbiter = await ctx.arbiter();
        let last = 0;
        const result = await arbiter.uninstall({
          force: opts.force === true,
          queuesPerTransaction: batch,
          onProgress: (p) => {
            // Progress on stderr, at most every 100 queues, so stdout keeps the one result.
            if (!ctx.json && p.queuesDropped - last >= 100) {
              last = p.queuesDropped;
              process.stderr.write(`dropped ${p.queuesDropped} queues, ${p.queuesLeft} left\n`);
            }
          },
        });
        ctx.emit(result, () =>
          result.existed
            ? `${ctx.c.red('Uninstalled')} schema "${ctx.schema}": ${result.queuesDropped} queues and ` +
              `${result.objectsDropped} other objects dropped in ${result.transactions} transactions.`
            : `Schema "${ctx.schema}" does not exist: nothing to remove.`,
        );
        return EXIT.ok;
      }),
    );
}
