import type { Command } from 'commander';
import type { KeyLimits, KeyLimitsPatch, KeyUsage } from '../../core/flow-limits.js';
import { action } from '../context.js';
import { fields, table } from '../output.js';
import { parseInteger } from '../parse.js';
import { bucketPatch, num, numberOrNone, rateText, valueOf, type Value } from './queue-limits.js';

// Limit keys from the command line (docs/flow-control.md): the keys of a queue with their use, and one
// key's override of the queue's per-key defaults.

const keyName = (k: string): string => (k === '' ? '(no key)' : k);

const tokensText = (k: KeyUsage): string =>
  k.tokens === null ? '-' : `${Math.floor(k.tokens * 10) / 10}/${k.rate!.burst}`;

/** `key: value` lines of a key's override ("default" where the queue's per-key default applies). */
function renderKeyLimits(l: KeyLimits, c: Parameters<typeof fields>[1]): string {
  return fields(
    [
      ['max in flight', l.maxInFlight === null ? 'default' : l.maxInFlight.toLocaleString('en-US')],
      ['rate', l.rate === null ? 'default' : rateText(l.rate)],
      ['weight', l.weight === null ? 'default (1)' : String(l.weight)],
    ],
    c,
  );
}

interface KeyFlags {
  maxInFlight?: Value;
  rate?: Value;
  burst?: number;
  cost?: number;
  weight?: Value;
}

/** `arbiter queue keys <name>` and `arbiter queue key-limits <name> <key>`. */
export function registerQueueKeys(queue: Command): void {
  queue
    .command('keys')
    .description(
      'list the limit keys of a queue with per-key limits: each with its limit, jobs in flight and ready, tokens and weight',
    )
    .argument('<name>', 'queue name')
    .option('--limit <n>', 'at most this many keys, in key order (1 to 500, default 50)', parseInteger)
    .option('--after <key>', 'the next page: keys after this one (printed after the previous page)')
    .action(
      action(async (ctx, name: string, opts: { limit?: number; after?: string }) => {
        const arbiter = await ctx.arbiter();
        const limit = opts.limit ?? 50;
        const items = await arbiter.listKeys(name, {
          limit,
          ...(opts.after === undefined ? {} : { after: opts.after }),
        });
        const nextAfter = items.length === limit ? items[items.length - 1]!.key : null;
        ctx.emit({ queue: name, items, nextAfter }, () => {
          if (items.length === 0) {
            return ctx.c.dim(
              opts.after === undefined
                ? `(no keys: queue "${name}" has no per-key limits, or no ungrouped job and no key override)`
                : '(no more keys)',
            );
          }
          const more =
            nextAfter === null ? '' : `\n${ctx.c.dim(`(more: --after ${JSON.stringify(nextAfter)})`)}`;
          return (
            table(
              items,
              [
                { header: 'KEY', value: (k) => keyName(k.key) },
                {
                  header: 'IN FLIGHT',
                  align: 'right',
                  value: (k) => `${k.inFlight}/${k.maxInFlight ?? '-'}`,
                  color: (s, k) =>
                    k.maxInFlight !== null && k.inFlight >= k.maxInFlight ? ctx.c.yellow(s) : s,
                },
                { header: 'READY', align: 'right', value: (k) => k.ready.toLocaleString('en-US') },
                { header: 'TOKENS', align: 'right', value: tokensText },
                { header: 'WEIGHT', align: 'right', value: (k) => String(k.weight) },
                { header: 'CONFIGURED', value: (k) => (k.configured ? 'yes' : 'no') },
              ],
              ctx.c,
            ) + more
          );
        });
      }),
    );

  queue
    .command('key-limits')
    .description(
      "show or change one limit key's override of the queue's per-key defaults (its cap, bucket and fair-share weight)",
    )
    .argument('<name>', 'queue name')
    .argument('<key>', 'the limit key')
    .option(
      '--max-in-flight <n>',
      'at most this many jobs of the key in flight, or none (the default)',
      numberOrNone,
    )
    .option('--rate <per-second>', "the key's own token bucket, or none (the default)", numberOrNone)
    .option('--burst <n>', "the key's bucket holds at most this many tokens (default: the rate)", num)
    .option('--cost <n>', 'tokens each job of the key takes (default 1)', num)
    .option(
      '--weight <n>',
      'jobs the key may take per turn of the fair share (1 to 1000), or none (1)',
      numberOrNone,
    )
    .action(
      action(async (ctx, name: string, key: string, opts: KeyFlags) => {
        const arbiter = await ctx.arbiter();
        const patch: KeyLimitsPatch = {};
        const max = valueOf(opts.maxInFlight);
        if (max !== undefined) patch.maxInFlight = max;
        const weight = valueOf(opts.weight);
        if (weight !== undefined) patch.weight = weight;
        const rate = await bucketPatch(
          opts,
          async () => (await arbiter.getKeyLimits(name, key)).rate,
          'limits.rate',
          '--burst or --cost',
        );
        if (rate !== undefined) patch.rate = rate;
        const changed = Object.keys(patch).length > 0;
        const limits = changed
          ? await arbiter.setKeyLimits(name, key, patch)
          : await arbiter.getKeyLimits(name, key);
        ctx.emit({ queue: name, key, limits }, () =>
          [
            changed
              ? `Limits of key "${key}" of queue "${name}" changed:`
              : `Limits of key "${key}" of queue "${name}":`,
            renderKeyLimits(limits, ctx.c),
          ].join('\n'),
        );
      }),
    );
}
