import type { Command } from 'commander';
import { diagnose, type DoctorReport } from '../../client/doctor.js';
import { action, type CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { date, table } from '../output.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the schema version, queue tables and triggers, group counts and table health')
    .option('--fix', 'repair what can be repaired safely (recompute drifted group counts), then check again')
    .action(
      action(async (ctx, opts: { fix?: boolean }) => {
        const arbiter = await ctx.arbiter();
        let report = await diagnose(arbiter.db, arbiter.schema);
        const repaired: string[] = [];
        if (opts.fix) {
          for (const q of report.queues) {
            if ((q.driftedGroups ?? 0) > 0) {
              await arbiter.queue(q.name).jobs.refreshGroups();
              repaired.push(q.name);
            }
          }
          if (repaired.length > 0) report = await diagnose(arbiter.db, arbiter.schema);
        }
        ctx.emit({ ...report, repaired }, () => human(ctx, report, repaired));
        return report.ok ? EXIT.ok : EXIT.failure;
      }),
    );
}

function human(ctx: CliContext, r: DoctorReport, repaired: string[]): string {
  const { c } = ctx;
  const out: string[] = [];
  const version =
    r.schemaState === 'current'
      ? c.green(`migration ${r.schemaVersion} (current)`)
      : r.schemaState === 'missing'
        ? c.red('does not exist')
        : r.schemaState === 'not-migrated'
          ? c.red('not migrated')
          : c.red(`migration ${r.schemaVersion}, expected ${r.expectedVersion}`);
  out.push(`${c.bold('Schema')} "${r.schema}": ${version}`);
  for (const name of repaired) out.push(c.green(`Recomputed the groups table of "${name}".`));
  if (r.queues.length > 0) {
    out.push(
      '',
      table(
        r.queues,
        [
          { header: 'QUEUE', value: (q) => q.name },
          {
            header: 'TABLES',
            value: (q) => (q.missingTables.length === 0 ? 'ok' : `missing ${q.missingTables.length}`),
            color: (s, q) => (q.missingTables.length === 0 ? c.green(s) : c.red(s)),
          },
          {
            header: 'TRIGGERS',
            value: (q) => {
              const bad = q.missingTriggers.length + q.disabledTriggers.length;
              return bad === 0 ? 'ok' : `${bad} missing/disabled`;
            },
            color: (s) => (s === 'ok' ? c.green(s) : c.red(s)),
          },
          { header: 'GROUPS', value: (q) => (q.groups === null ? '-' : String(q.groups)), align: 'right' },
          {
            header: 'DRIFTED',
            value: (q) => (q.driftedGroups === null ? '-' : String(q.driftedGroups)),
            align: 'right',
            color: (s, q) => ((q.driftedGroups ?? 0) > 0 ? c.red(s) : s),
          },
        ],
        c,
      ),
    );
  }
  if (r.tables.length > 0) {
    out.push(
      '',
      table(
        r.tables,
        [
          { header: 'TABLE', value: (t) => t.table },
          { header: 'LIVE', value: (t) => String(t.liveTuples ?? '-'), align: 'right' },
          { header: 'DEAD', value: (t) => String(t.deadTuples ?? '-'), align: 'right' },
          { header: 'LAST AUTOVACUUM', value: (t) => date(t.lastAutovacuum) },
          { header: 'LAST AUTOANALYZE', value: (t) => date(t.lastAutoanalyze) },
          { header: 'XID AGE', value: (t) => String(t.xidAge), align: 'right' },
        ],
        c,
      ),
    );
  }
  out.push('');
  if (r.findings.length === 0) out.push(c.green('No problems found.'));
  for (const f of r.findings) {
    const tag = f.severity === 'problem' ? c.red('PROBLEM') : c.yellow('WARNING');
    out.push(`${tag} ${f.message}`, `  ${c.dim('fix:')} ${f.fix}`);
  }
  return out.join('\n');
}
