import type { Command } from 'commander';
import { action } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description("create or upgrade Arbiter's schema (safe to run repeatedly and concurrently)")
    .option('--dry-run', 'print the SQL that would run, apply nothing')
    .action(
      action(async (ctx, opts: { dryRun?: boolean }) => {
        const arbiter = await ctx.arbiter();
        if (opts.dryRun) {
          const sql = await arbiter.pendingMigrationSql();
          ctx.emit({ schema: ctx.schema, dryRun: true, pending: sql !== '', sql }, () =>
            sql === '' ? `-- schema "${ctx.schema}" is up to date: nothing to apply` : sql,
          );
          return;
        }
        const result = await arbiter.migrate();
        ctx.emit({ schema: ctx.schema, ...result }, () =>
          result.applied.length === 0
            ? `Schema "${ctx.schema}" is up to date (version ${result.current}).`
            : `${ctx.c.green('Migrated')} schema "${ctx.schema}": applied ${result.applied.join(', ')}; now at version ${result.current}.`,
        );
      }),
    );
}
