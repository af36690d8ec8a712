import { InvalidArgumentError, type Command } from 'commander';
import type { Retention, RetentionPatch } from '../../core/retention.js';
import { action } from '../context.js';
import { notFound } from '../errors.js';
import { duration, fields } from '../output.js';
import { parseDuration, parseInteger } from '../parse.js';

// Commander keeps what a parser returns, except null: `none` travels as a word and becomes null below.
type Limit = number | 'none' | 'default';

/** A limit: `none` (no limit), `default`, or a value parsed by `parse`. */
const limit =
  (parse: (v: string) => number) =>
  (value: string): Limit => {
    const v = value.trim().toLowerCase();
    if (v === 'none' || v === 'default') return v;
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}, none or default`);
    }
  };

const show = (v: number | null, age: boolean): string =>
  v === null ? 'no limit' : age ? duration(v) : v.toLocaleString('en-US');

/** `key: value` lines of a queue's retention. */
export function renderRetention(r: Retention, c: Parameters<typeof fields>[1]): string {
  return fields(
    [
      ['history max age', show(r.historyMaxAgeMs, true)],
      ['history max count', show(r.historyMaxCount, false)],
      ['dead letter max age', show(r.deadLetterMaxAgeMs, true)],
      ['dead letter max count', show(r.deadLetterMaxCount, false)],
      ['stats max age', show(r.statsMaxAgeMs, true)],
    ],
    c,
  );
}

/** `arbiter queue retention <name> [--history-max-age …]`: shows, or changes then shows, a queue's retention. */
export function registerQueueRetention(queue: Command): void {
  queue
    .command('retention')
    .description(
      'show or change what a queue keeps of finished work (history rows, dead letters, throughput history); the maintenance leader deletes the rest',
    )
    .argument('<name>', 'queue name')
    .option(
      '--history-max-age <duration>',
      'prune history rows older than this (e.g. 14d), none or default',
      limit(parseDuration),
    )
    .option(
      '--history-max-count <n>',
      'keep at most this many history rows, none or default',
      limit(parseInteger),
    )
    .option(
      '--dead-letter-max-age <duration>',
      'prune dead letters older than this (e.g. 30d), none or default',
      limit(parseDuration),
    )
    .option(
      '--dead-letter-max-count <n>',
      'keep at most this many dead letters, none or default',
      limit(parseInteger),
    )
    .option(
      '--stats-max-age <duration>',
      'prune throughput history (stats --history) older than this (e.g. 30d), none or default',
      limit(parseDuration),
    )
    .action(
      action(
        async (
          ctx,
          name: string,
          opts: {
            historyMaxAge?: Limit;
            historyMaxCount?: Limit;
            deadLetterMaxAge?: Limit;
            deadLetterMaxCount?: Limit;
            statsMaxAge?: Limit;
          },
        ) => {
          const arbiter = await ctx.arbiter();
          const patch: RetentionPatch = {};
          const value = (v: Limit) => (v === 'none' ? null : v);
          if (opts.historyMaxAge !== undefined) patch.historyMaxAgeMs = value(opts.historyMaxAge);
          if (opts.historyMaxCount !== undefined) patch.historyMaxCount = value(opts.historyMaxCount);
          if (opts.deadLetterMaxAge !== undefined) patch.deadLetterMaxAgeMs = value(opts.deadLetterMaxAge);
          if (opts.deadLetterMaxCount !== undefined)
            patch.deadLetterMaxCount = value(opts.deadLetterMaxCount);
          if (opts.statsMaxAge !== undefined) patch.statsMaxAgeMs = value(opts.statsMaxAge);
          const changed = Object.keys(patch).length > 0;
          let retention: Retention;
          if (changed) {
            retention = await arbiter.setQueueRetention(name, patch);
          } else {
            const info = await arbiter.getQueue(name);
            if (!info)
              throw notFound(`queue "${name}" does not exist`, 'list queues with `arbiter queue list`');
            retention = info.retention;
          }
          ctx.emit({ queue: name, retention }, () =>
            [
              changed ? `Retention of queue "${name}" changed:` : `Retention of queue "${name}":`,
              renderRetention(retention, ctx.c),
            ].join('\n'),
          );
        },
      ),
    );
}
