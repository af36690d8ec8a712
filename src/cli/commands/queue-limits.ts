import { InvalidArgumentError, type Command } from 'commander';
import type { QueueLimits, QueueLimitsPatch, RateLimit } from '../../core/flow-limits.js';
import { ValidationError } from '../../errors.js';
import { action } from '../context.js';
import { usageError } from '../errors.js';
import { fields } from '../output.js';

// Commander keeps what a parser returns, except null: `none` travels as a word and becomes null below.
export type Value = number | 'none';

/** A number (checked by the library, which names the flag when it is out of range), or `none`. */
export const numberOrNone = (value: string): Value => {
  const v = value.trim().toLowerCase();
  if (v === 'none') return 'none';
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new InvalidArgumentError('must be a number or none');
  return n;
};

export const num = (value: string): number => {
  const n = Number(value.trim());
  if (value.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError('must be a number');
  return n;
};

/** A flag's value as the library takes it: `none` is null, left out stays undefined. */
export const valueOf = (v: Value | undefined): number | null | undefined => (v === 'none' ? null : v);

/**
 * The bucket a set of rate flags asks for: `none` removes it, undefined when no flag was given. A burst
 * or cost alone changes the bucket in force (`current()`), which must then exist (`field` names it).
 */
export async function bucketPatch(
  o: { rate?: Value; burst?: number; cost?: number },
  current: () => Promise<RateLimit | null>,
  field: string,
  flags: string,
): Promise<{ perSecond: number; burst?: number; cost?: number } | null | undefined> {
  if (o.rate === 'none') return null;
  if (o.rate === undefined && o.burst === undefined && o.cost === undefined) return undefined;
  const now = o.rate === undefined ? await current() : null;
  const perSecond = o.rate ?? now?.perSecond;
  if (perSecond === undefined) {
    throw new ValidationError(
      `${field}.perSecond`,
      undefined,
      `is needed with ${flags} (there is no rate limit)`,
    );
  }
  const burst = o.burst ?? now?.burst;
  const cost = o.cost ?? now?.cost;
  return {
    perSecond,
    ...(burst === undefined ? {} : { burst }),
    ...(cost === undefined ? {} : { cost }),
  };
}

export const rateText = (r: RateLimit | null): string =>
  r === null ? 'no limit' : `${r.perSecond}/s, burst ${r.burst}, cost ${r.cost} per job`;
const capText = (n: number | null): string => (n === null ? 'no limit' : n.toLocaleString('en-US'));

/** `key: value` lines of a queue's flow-control limits. */
export function renderLimits(l: QueueLimits, c: Parameters<typeof fields>[1]): string {
  return fields(
    [
      ['max in flight', capText(l.maxInFlight)],
      ['rate', rateText(l.rate)],
      [
        'per key',
        l.perKey === null
          ? 'off (jobs are claimed without regard to their key)'
          : 'on (fair share across keys)',
      ],
      ...(l.perKey === null
        ? []
        : ([
            ['key max in flight', capText(l.perKey.maxInFlight)],
            ['key rate', rateText(l.perKey.rate)],
          ] as [string, string][])),
    ],
    c,
  );
}

interface LimitFlags {
  maxInFlight?: Value;
  rate?: Value;
  burst?: number;
  cost?: number;
  keyMaxInFlight?: Value;
  keyRate?: Value;
  keyBurst?: number;
  keyCost?: number;
  perKey?: 'on' | 'off';
}

const onOff = (value: string): 'on' | 'off' => {
  const v = value.trim().toLowerCase();
  if (v !== 'on' && v !== 'off') throw new InvalidArgumentError('must be on or off');
  return v;
};

/** The patch the flags ask for (empty: show the limits). */
async function limitsPatch(opts: LimitFlags, read: () => Promise<QueueLimits>): Promise<QueueLimitsPatch> {
  const patch: QueueLimitsPatch = {};
  const maxInFlight = valueOf(opts.maxInFlight);
  if (maxInFlight !== undefined) patch.maxInFlight = maxInFlight;
  const rate = await bucketPatch(opts, async () => (await read()).rate, 'limits.rate', '--burst or --cost');
  if (rate !== undefined) patch.rate = rate;
  const keyFlags = [opts.keyMaxInFlight, opts.keyRate, opts.keyBurst, opts.keyCost].some(
    (v) => v !== undefined,
  );
  if (opts.perKey === 'off') {
    if (keyFlags) throw usageError('--per-key off turns keys off: give no --key-* flag with it');
    patch.perKey = null;
  } else if (opts.perKey === 'on' || keyFlags) {
    const perKey: NonNullable<QueueLimitsPatch['perKey']> = {};
    const keyMax = valueOf(opts.keyMaxInFlight);
    if (keyMax !== undefined) perKey.maxInFlight = keyMax;
    const keyRate = await bucketPatch(
      { rate: opts.keyRate, burst: opts.keyBurst, cost: opts.keyCost },
      async () => (await read()).perKey?.rate ?? null,
      'limits.perKey.rate',
      '--key-burst or --key-cost',
    );
    if (keyRate !== undefined) perKey.rate = keyRate;
    patch.perKey = perKey;
  }
  return patch;
}

/** `arbiter queue limits <name> [--max-in-flight n] [--rate n --burst n --cost n] [--key-… ] [--per-key on|off]`. */
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
    .option(
      '--key-max-in-flight <n>',
      'per limit key: at most this many jobs of one key in flight (default of every key), or none',
      numberOrNone,
    )
    .option('--key-rate <per-second>', 'per limit key: a token bucket of each key, or none', numberOrNone)
    .option('--key-burst <n>', "per limit key: each key's bucket holds at most this many tokens", num)
    .option('--key-cost <n>', "per limit key: tokens each job takes from its key's bucket", num)
    .option(
      '--per-key <on|off>',
      'on: claim key by key in fair turns (also implied by any --key-* flag); off: ignore keys',
      onOff,
    )
    .action(
      action(async (ctx, name: string, opts: LimitFlags) => {
        const arbiter = await ctx.arbiter();
        let current: Promise<QueueLimits> | undefined;
        const read = () => (current ??= arbiter.getQueueLimits(name));
        const patch = await limitsPatch(opts, read);
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
      }),
    );
}
