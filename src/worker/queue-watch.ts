import type { Executor } from '../db/executor.js';
import { queueExisting } from '../db/queries/queue.js';
import { QueuesNotFoundError } from '../errors.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedOptions } from './options.js';

/**
 * What a worker checks before it registers or starts anything: that the schema is at this version's
 * migration (the Arbiter's schema check: SchemaNotMigratedError or SchemaTooNewError), and that every
 * queue it serves or schedules cron jobs into exists. Missing queues throw one QueuesNotFoundError naming
 * them all, unless the worker may wait for them: then it gets the QueueWatch that waits for them.
 */
export async function checkWorkerStart(
  o: ResolvedOptions,
  watch: Pick<QueueWatchOptions, 'db' | 'workerId' | 'onAppear' | 'events'>,
): Promise<QueueWatch | undefined> {
  const { arbiter } = o;
  await arbiter.checkSchema();
  const wanted = [...new Set([...o.queues.map((q) => q.name), ...o.cron.map((c) => c.queue)])];
  const found = await queueExisting(arbiter.db, arbiter.schema, wanted);
  const missing = wanted.filter((q) => !found.has(q));
  if (missing.length === 0) return undefined;
  if (!o.waitForQueues) throw new QueuesNotFoundError(arbiter.schema, missing);
  return new QueueWatch({ ...watch, schema: arbiter.schema, missing, intervalMs: o.pollIntervalMs });
}

export interface QueueWatchOptions {
  db: Executor;
  schema: string;
  workerId: string;
  /** The queues that did not exist at start. */
  missing: readonly string[];
  intervalMs: number;
  /** Called once per queue, when it is found to exist (after `worker:queue-appeared`). */
  onAppear: (queue: string) => void;
  events: WorkerEventEmitter;
}

/**
 * Waits for queues a worker was told to wait for (`waitForQueues`): one lookup in the queue registry every
 * `intervalMs` for those still missing, and at once when asked (a NOTIFY named one: its jobs exist), until
 * all have appeared. Nothing runs once they have, so a worker whose queues exist pays nothing.
 */
export class QueueWatch {
  private readonly waiting: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: QueueWatchOptions) {
    this.waiting = new Set(o.missing);
  }

  /** True while `queue` is still missing: the worker claims nothing from it. */
  has(queue: string): boolean {
    return this.waiting.has(queue);
  }

  /** Reports the missing queues (once), then looks for them until all have appeared. */
  start(): void {
    if (this.waiting.size === 0 || this.timer) return;
    this.o.events.emit('worker:queues-missing', { workerId: this.o.workerId, queues: [...this.waiting] });
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
  }

  /** Looks for the missing queues now (a check already under way counts). */
  check(): Promise<void> {
    this.checking ??= this.lookup().finally(() => (this.checking = undefined));
    return this.checking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  private async lookup(): Promise<void> {
    if (this.stopped || this.waiting.size === 0) return;
    try {
      const found = await queueExisting(this.o.db, this.o.schema, [...this.waiting]);
      for (const queue of found) {
        if (this.stopped || !this.waiting.delete(queue)) continue;
        this.o.events.emit('worker:queue-appeared', { workerId: this.o.workerId, queue });
        this.o.onAppear(queue);
      }
      if (this.waiting.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    } catch (error) {
      this.o.events.emit('error', { error, context: 'worker:queue-watch' });
    }
  }
}
