import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { EnqueueItem } from '../../client/queue.js';
import type { EnqueueOptions } from '../../types.js';
import { action, type CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { Progress } from '../output.js';
import { parseDate, parseDuration, parseInteger } from '../parse.js';
import { jobDetail } from '../render.js';

interface EnqueueFlags {
  group?: string;
  limitKey?: string;
  priority?: number;
  delay?: number;
  runAt?: Date;
  maxAttempts?: number;
  dedupKey?: string;
  dedupMode?: 'ignore' | 'replace';
  idempotencyKey?: string;
  parent?: string;
  suspended?: boolean;
  file?: string;
  uniqueKey?: string;
  uniqueFor?: number;
  uniqueAfter?: 'finished' | 'succeeded' | 'dead';
  debounceKey?: string;
  debounceWindow?: number;
  debounceMaxWait?: number;
  throttleKey?: string;
  throttleWindow?: number;
  throttleTrailing?: boolean;
  maxQueued?: number;
  maxQueuedScope?: 'queue' | 'group';
  overflow?: 'reject' | 'dropOldest' | 'wait';
  overflowTimeout?: number;
  result?: boolean;
  dependsOn?: string;
  onDependencyFailure?: 'cancel' | 'continue';
}

/** The flags of the enqueue controls (docs/enqueue.md): single enqueues only. */
const CONTROL_FLAGS = [
  'uniqueKey',
  'debounceKey',
  'throttleKey',
  'maxQueued',
  'result',
  'dependsOn',
] as const;

/** Jobs per enqueueMany call when reading a file. */
const BATCH = 1000;

export function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description('add a job (payload as JSON), or many with --file (one JSON payload per line)')
    .argument('<queue>', 'queue name')
    .argument('[payload]', 'the job payload as JSON, e.g. \'{"to":"a@b.c"}\'')
    .option('--group <key>', 'group key: jobs of a group run one at a time, in order')
    .option(
      '--limit-key <key>',
      'limit key (a tenant, an account): per-key limits and fair share apply (not with --group)',
    )
    .option('--priority <n>', 'lower runs first, -32768 to 32767 (default: 0)', parseInteger)
    .option(
      '--delay <duration>',
      'run no earlier than this from now: 1500, 500ms, 10s, 5m, 2h, 1d',
      parseDuration,
    )
    .option('--run-at <date>', 'run no earlier than this ISO-8601 time (not with --delay)', parseDate)
    .option(
      '--max-attempts <n>',
      'claims allowed before dead-lettering, 1 to 1000000 (default: 25)',
      parseInteger,
    )
    .option('--dedup-key <key>', 'deduplication key (see --dedup-mode)')
    .addOption(
      new Option('--dedup-mode <mode>', 'what a duplicate dedup key does')
        .choices(['ignore', 'replace'])
        .default('ignore'),
    )
    .option('--idempotency-key <key>', 'return the live job holding this key instead of inserting')
    .option('--parent <id>', 'make the job a child of this job (same queue)')
    .option('--suspended', 'insert suspended (unclaimable until `arbiter jobs resume`)')
    .option('--file <path>', 'bulk: read one JSON payload per line from this file (- for stdin)')
    .option('--unique-key <key>', 'keep this key taken while the job is live and --unique-for after it')
    .option(
      '--unique-for <duration>',
      'how long the unique key stays taken after the job finished',
      parseDuration,
    )
    .addOption(
      new Option('--unique-after <finish>', 'which finishes hold the unique key').choices([
        'finished',
        'succeeded',
        'dead',
      ]),
    )
    .option('--debounce-key <key>', 'debounce: one job, run --debounce-window after the last enqueue')
    .option('--debounce-window <duration>', 'debounce quiet time (up to 1d)', parseDuration)
    .option(
      '--debounce-max-wait <duration>',
      'debounce: run no later than this after the first enqueue',
      parseDuration,
    )
    .option('--throttle-key <key>', 'throttle: at most one job per key per --throttle-window')
    .option('--throttle-window <duration>', 'throttle window (up to 1d)', parseDuration)
    .option('--throttle-trailing', "throttle: keep the window's last enqueue as a job run at its end")
    .option('--max-queued <n>', 'refuse (see --overflow) when this many jobs are waiting', parseInteger)
    .addOption(
      new Option('--max-queued-scope <scope>', 'count the whole queue or the job group').choices([
        'queue',
        'group',
      ]),
    )
    .addOption(
      new Option('--overflow <policy>', 'at the --max-queued cap').choices(['reject', 'dropOldest', 'wait']),
    )
    .option('--overflow-timeout <duration>', 'for --overflow wait: how long to wait for room', parseDuration)
    .option('--result', "keep the job's result, to read with `arbiter jobs result` (docs/workflows.md)")
    .option('--depends-on <ids>', 'wait for these jobs first: ids of this queue or queue/id, comma-separated')
    .addOption(
      new Option('--on-dependency-failure <policy>', 'when a dependency fails').choices([
        'cancel',
        'continue',
      ]),
    )
    .action(
      action(async (ctx, queueName: string, payloadText: string | undefined, flags: EnqueueFlags) => {
        if (flags.file !== undefined) {
          if (payloadText !== undefined) throw usageError('give either a payload or --file, not both');
          return enqueueFile(ctx, queueName, flags);
        }
        if (payloadText === undefined) throw usageError('missing payload: give it as JSON, or use --file');
        const payload = parsePayload(payloadText, 'payload');
        const queue = await ctx.queue(queueName);
        const job = await queue.enqueue(payload, enqueueOptions(flags));
        if (job === null) {
          const reason =
            flags.dedupKey !== undefined ? 'dedup' : flags.uniqueKey !== undefined ? 'unique' : 'throttle';
          ctx.emit({ job: null, skipped: true, reason }, () =>
            ctx.c.yellow(
              reason === 'dedup'
                ? `Skipped: a job with dedup key "${flags.dedupKey}" already exists (or is in flight).`
                : reason === 'unique'
                  ? `Skipped: unique key "${flags.uniqueKey}" is still taken (its job finished recently).`
                  : `Skipped: throttle key "${flags.throttleKey}" is within its window.`,
            ),
          );
          return;
        }
        const outcome = job.enqueueOutcome ?? 'created';
        const verb: Record<string, string> = {
          created: 'Enqueued',
          replaced: 'Replaced the pending',
          absorbed: 'Absorbed into',
          throttled: 'Throttled: nothing written; the window belongs to',
          duplicate: 'Duplicate: nothing written; the key is held by',
        };
        ctx.emit(
          { job, skipped: false, ...(job.enqueueOutcome ? { outcome } : {}) },
          () =>
            `${ctx.c.green(verb[outcome] ?? 'Enqueued')} job ${job.id} on "${queueName}".\n${jobDetail(job, ctx.c)}`,
        );
      }),
    );
}

function enqueueOptions(f: EnqueueFlags): EnqueueOptions {
  const o: EnqueueOptions = {};
  if (f.group !== undefined) o.groupKey = f.group;
  if (f.limitKey !== undefined) o.limitKey = f.limitKey;
  if (f.priority !== undefined) o.priority = f.priority;
  if (f.delay !== undefined) o.delayMs = f.delay;
  if (f.runAt !== undefined) o.runAt = f.runAt;
  if (f.maxAttempts !== undefined) o.maxAttempts = f.maxAttempts;
  if (f.dedupKey !== undefined) o.dedup = { key: f.dedupKey, mode: f.dedupMode ?? 'ignore' };
  if (f.idempotencyKey !== undefined) o.idempotencyKey = f.idempotencyKey;
  if (f.parent !== undefined) o.parentId = f.parent;
  if (f.suspended) o.suspended = true;
  if (f.uniqueKey !== undefined || f.uniqueFor !== undefined) {
    o.unique = { key: f.uniqueKey!, forMs: f.uniqueFor!, ...(f.uniqueAfter ? { after: f.uniqueAfter } : {}) };
  }
  if (f.debounceKey !== undefined || f.debounceWindow !== undefined) {
    o.debounce = {
      key: f.debounceKey!,
      windowMs: f.debounceWindow!,
      ...(f.debounceMaxWait !== undefined ? { maxWaitMs: f.debounceMaxWait } : {}),
    };
  }
  if (f.throttleKey !== undefined || f.throttleWindow !== undefined) {
    o.throttle = { key: f.throttleKey!, windowMs: f.throttleWindow!, trailing: f.throttleTrailing ?? false };
  }
  if (f.result) o.result = true;
  if (f.dependsOn !== undefined) {
    o.dependsOn = f.dependsOn
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => (d.includes('/') ? { queue: d.split('/')[0]!, id: d.split('/')[1]! } : d));
  }
  if (f.onDependencyFailure !== undefined) o.onDependencyFailure = f.onDependencyFailure;
  if (f.maxQueued !== undefined) {
    o.maxQueued = {
      limit: f.maxQueued,
      ...(f.maxQueuedScope ? { scope: f.maxQueuedScope } : {}),
      ...(f.overflow ? { overflow: f.overflow } : {}),
      ...(f.overflowTimeout !== undefined ? { timeoutMs: f.overflowTimeout } : {}),
    };
  }
  return o;
}

function parsePayload(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${where}: not valid JSON (${(err as Error).message})`);
  }
}

async function readInput(path: string): Promise<string> {
  if (path !== '-') {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw usageError(`--file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Every line is parsed before anything is written, so a bad line 9,000 does not leave 8,999 jobs behind. */
async function enqueueFile(ctx: CliContext, queueName: string, flags: EnqueueFlags): Promise<void> {
  if (flags.dedupKey !== undefined || flags.idempotencyKey !== undefined) {
    throw usageError('--dedup-key and --idempotency-key name one job; they cannot be given with --file');
  }
  if (CONTROL_FLAGS.some((k) => flags[k] !== undefined)) {
    throw usageError(
      '--unique-key, --debounce-key, --throttle-key, --max-queued, --result and --depends-on are for one job, not --file',
    );
  }
  const text = await readInput(flags.file!);
  const options = enqueueOptions(flags);
  const items: EnqueueItem<unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    items.push({ payload: parsePayload(line, `line ${i + 1}`), ...options });
  });
  const queue = await ctx.queue(queueName);
  const progress = new Progress('enqueue', items.length, ctx.json);
  let enqueued = 0;
  for (let i = 0; i < items.length; i += BATCH) {
    const batch = items.slice(i, i + BATCH);
    enqueued += await queue.enqueueManyCount(batch);
    progress.add(batch.length);
  }
  progress.finish();
  ctx.emit(
    { queue: queueName, read: items.length, enqueued },
    () => `${ctx.c.green('Enqueued')} ${enqueued} of ${items.length} jobs on "${queueName}".`,
  );
}
