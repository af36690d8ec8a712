import { InvalidArgumentError, type Command } from 'commander';
import type { QueueLimits, QueueLimitsPatch } from '../../core/flow-limits.js';
import { ValidationError } from '../../errors.js';
import { action } from '../context.js';
import { fields } from '../output.js';

// Commander keeps what a parser returns, except null: `none` travels as a word and becomes null below.
type Value = number | 'none';

/** A number (checked by the library, which names the flag when it is out of range), or `none`. */
const numberOrNone = (value: string): Value => {
  const v = value.trim().toLowerCase();
  if (v === 'none') return 'none';
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new InvalidArgumentError('must be a number or none');
  return n;
};

const num = (value: string): number => {
  const n = Number(value.trim());
  if (value.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError('must be a number');
  return n;
};

/** `key: value` lines of a queue's flow-control limits. */
export function renderLimits(l: QueueLimits, c: Parameters<typeof fields>[1]): string {
  return fields(
    [
      ['max in flight', l.maxInFlight === null ? 'no limit' : l.maxInFlight.toLocaleString('en-US')],
      [
        'rate',
        l.rate === null
          ? 'no limit'
          : `${l.rate.perSecond}/s, burst ${l.rate.burst}, cost ${l.rate.cost} per job`,
      ],
    ],
    c,
  );
}

/** `arbiter queue limits <name> [--max-in-flight n] [--rate n --burst n --cost n]`: show or change limits. */
export function registerQueueLimits(queue: Command): void {
  queue
    .command('limits')
    .description(
      "show or change a queue's flow-control limits (enforced inside the claim, across every worker; applied within a second)",
    )
    .argument('<name>', 'queue name')
    .option(
      '--max-in-flight <n>',
      'at most this many jobs of the queue in flight at once, or none',
      numberOrNone,
    )
    .option(
      '--rate <per-second>',
      'a token bucket refilled at this many jobs a second, or none',
      numberOrNone,
    )
    .option('--burst <n>', 'the bucket holds at most this many tokens (default: the rate)', num)
    .option('--cost <n>', 'tokens each job takes (default 1)', num)
    .action(
      action(
        async (
          ctx,
          name: string,
          opts: { maxInFlight?: Value; rate?: Value; burst?: number; cost?: number },
        ) => {
          const arbiter = await ctx.arbiter();
          const patch: QueueLimitsPatch = {};
          if (opts.maxInFlight !== undefined)
            patch.maxInFlight = opts.maxInFlight === 'none' ? null : opts.maxInFlight;
          if (opts.rate === 'none') patch.rate = null;
          else if (opts.rate !== undefined || opts.burst !== undefined || opts.cost !== undefined) {
            // --burst or --cost alone change the bucket in force.
            const current = opts.rate === undefined ? (await arbiter.getQueueLimits(name)).rate : null;
            const perSecond = opts.rate ?? current?.perSecond;
            if (perSecond === undefined) {
              throw new ValidationError(
                'limits.rate.perSecond',
                undefined,
                'is needed with --burst or --cost (the queue has no rate limit)',
              );
            }
            const burst = opts.burst ?? current?.burst;
            const cost = opts.cost ?? current?.cost;
            patch.rate = {
              perSecond,
              ...(burst === undefined ? {} : { burst }),
              ...(cost === undefined ? {} : { cost }),
            };
          }
          const changed = Object.keys(patch).length > 0;
          const limits = changed
            ? await arbiter.setQueueLimits(name, patch)
            : await arbiter.getQueueLimits(name);
          ctx.emit({ queue: name, limits }, () =>
            [
              changed ? `Limits of queue "${name}" changed:` : `Limits of queue "${name}":`,
              renderLimits(limits, ctx.c),
            ].join('\n'),
          );
        },
      ),
    );
}
