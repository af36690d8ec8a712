import type { Command } from 'commander';
import type { CronScheduleInfo, CronSchedulePatch } from '../../client/cron.js';
import { action } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { date, fields, table, type Colors } from '../output.js';
import { choice, parseInteger, parseJson } from '../parse.js';

interface DefinitionFlags {
  queue?: string;
  pattern?: string;
  tz?: string;
  payload?: unknown;
  overlap?: 'skip' | 'allow';
  missed?: 'skip' | 'once' | 'catch-up';
  catchUpMax?: number;
}

function cronTable(items: readonly CronScheduleInfo[], c: Colors): string {
  if (items.length === 0) return c.dim('(no schedules)');
  return table(
    items,
    [
      { header: 'NAME', value: (s) => s.name, max: 32 },
      { header: 'QUEUE', value: (s) => s.queue },
      { header: 'PATTERN', value: (s) => s.pattern },
      { header: 'TZ', value: (s) => s.tz },
      {
        header: 'STATE',
        value: (s) => (s.paused ? 'paused' : 'active'),
        color: (t, s) => (s.paused ? c.yellow(t) : c.green(t)),
      },
      { header: 'SOURCE', value: (s) => s.source + (s.overridden ? ' (overridden)' : '') },
      { header: 'MISSED', value: (s) => (s.missed === 'catch-up' ? `catch-up:${s.catchUpMax}` : s.missed) },
      { header: 'LAST TICK', value: (s) => date(s.lastTick) },
      { header: 'NEXT TICK', value: (s) => date(s.nextTick) },
    ],
    c,
  );
}

function cronDetail(s: CronScheduleInfo, c: Colors): string {
  return fields(
    [
      ['name', s.name],
      ['queue', s.queue],
      ['pattern', `${s.pattern} (${s.tz})`],
      ['state', s.paused ? c.yellow('paused') : c.green('active')],
      ['source', s.source + (s.overridden ? ' (changed at runtime: deploys leave it alone)' : '')],
      ['payload', s.payload === null ? c.dim('(a function, in code)') : JSON.stringify(s.payload)],
      ['overlap', s.overlap],
      ['missed ticks', s.missed === 'catch-up' ? `catch up to ${s.catchUpMax}` : s.missed],
      ['last tick', date(s.lastTick)],
      ['next tick', date(s.nextTick)],
    ],
    c,
  );
}

/** The definition options shared by `add` and `set`. */
function definitionOptions(cmd: Command, forAdd: boolean): Command {
  if (!forAdd) {
    cmd.option('--queue <queue>', 'the queue its jobs go to');
    cmd.option(
      '--pattern <cron>',
      "cron expression: 5 fields, or 6 with seconds first (quote it: '0 3 * * *')",
    );
  }
  return cmd
    .option('--tz <zone>', 'IANA time zone (default UTC)')
    .option('--payload <json>', 'JSON payload of each job (default {})', parseJson)
    .option(
      '--overlap <mode>',
      'skip (default): no new job while the previous one is queued or running; allow',
      choice(['skip', 'allow']),
    )
    .option(
      '--missed <policy>',
      'ticks missed while no worker ran: once (default, the latest), skip (none), catch-up (see --catch-up-max)',
      choice(['skip', 'once', 'catch-up']),
    )
    .option(
      '--catch-up-max <n>',
      'with --missed catch-up: the most missed ticks fired (1 to 1000, default 10)',
      parseInteger,
    );
}

function patchOf(flags: DefinitionFlags): CronSchedulePatch {
  const patch: CronSchedulePatch = {};
  for (const key of ['queue', 'pattern', 'tz', 'payload', 'overlap', 'missed', 'catchUpMax'] as const) {
    if (flags[key] !== undefined) (patch as Record<string, unknown>)[key] = flags[key];
  }
  return patch;
}

/** `arbiter cron list|add|set|pause|resume|remove`: recurring schedules, managed at runtime. */
export function registerCron(program: Command): void {
  const cron = program
    .command('cron')
    .description('recurring schedules: list, and add, change, pause, resume or remove them without a deploy');

  cron
    .command('list')
    .description('every schedule (from code and added at runtime) with its last and next tick')
    .action(
      action(async (ctx) => {
        const items = await (await ctx.arbiter()).cron.list();
        ctx.emit({ items }, () => cronTable(items, ctx.c));
      }),
    );

  definitionOptions(
    cron
      .command('add')
      .description('add a schedule; it fires from its next tick, on any running worker')
      .argument('<name>', 'schedule name (unique)')
      .argument('<queue>', 'the queue its jobs go to')
      .argument('<pattern>', "cron expression (quote it: '*/5 * * * *')"),
    true,
  )
    .option('--paused', 'add it paused')
    .action(
      action(
        async (
          ctx,
          name: string,
          queue: string,
          pattern: string,
          flags: DefinitionFlags & { paused?: boolean },
        ) => {
          const s = await (
            await ctx.arbiter()
          ).cron.add({
            ...patchOf(flags),
            name,
            queue,
            pattern,
            paused: flags.paused === true,
          });
          ctx.emit(s, () => `${ctx.c.green('Added')} schedule ${name}.\n${cronDetail(s, ctx.c)}`);
        },
      ),
    );

  definitionOptions(
    cron
      .command('set')
      .description('change a schedule (a code schedule changed here is left alone by later deploys)')
      .argument('<name>', 'schedule name'),
    false,
  ).action(
    action(async (ctx, name: string, flags: DefinitionFlags) => {
      const patch = patchOf(flags);
      if (Object.keys(patch).length === 0) {
        throw new CliError(
          'nothing to change',
          EXIT.usage,
          'give at least one of --pattern, --tz, --payload, --queue, --overlap, --missed, --catch-up-max',
        );
      }
      const s = await (await ctx.arbiter()).cron.set(name, patch);
      ctx.emit(s, () => `${ctx.c.green('Changed')} schedule ${name}.\n${cronDetail(s, ctx.c)}`);
    }),
  );

  for (const verb of ['pause', 'resume'] as const) {
    cron
      .command(verb)
      .description(
        verb === 'pause'
          ? 'stop a schedule firing (deploys do not resume it)'
          : 'let a paused schedule fire again, from its next tick',
      )
      .argument('<name>', 'schedule name')
      .action(
        action(async (ctx, name: string) => {
          const s = await (await ctx.arbiter()).cron[verb](name);
          const done = verb === 'pause' ? 'Paused' : 'Resumed';
          ctx.emit(s, () => `${ctx.c.green(done)} schedule ${name}; next tick: ${date(s.nextTick)}.`);
        }),
      );
  }

  cron
    .command('remove')
    .description('remove a schedule (one from code comes back when a worker that has it starts)')
    .argument('<name>', 'schedule name')
    .action(
      action(async (ctx, name: string) => {
        const removed = await (await ctx.arbiter()).cron.remove(name);
        if (!removed) {
          throw new CliError(
            `cron schedule "${name}" does not exist`,
            EXIT.notFound,
            'list schedules with `arbiter cron list`',
            'CRON_NOT_FOUND',
          );
        }
        ctx.emit({ name, removed }, () => `${ctx.c.green('Removed')} schedule ${name}.`);
      }),
    );
}
