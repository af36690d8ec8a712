import { hostname } from 'node:os';
import type { Executor } from '../db/executor.js';
import { workerHeartbeat, workerRegister, workerUnregister } from '../db/queries/worker.js';
import type { ClockOffset } from '../db/rows.js';
import type { WorkerEventEmitter } from './events.js';

/** Host clock ahead of (positive) or behind the database by more than this: a warning event per heartbeat. */
const CLOCK_SKEW_WARNING_MS = 60_000;

/**
 * The worker's row in `_workers` (the table of live consumers): registered on start, heartbeat every
 * `intervalMs`, removed on stop. A worker found evicted (presumed dead while it was merely slow) registers
 * again; the jobs it held were released, and its late writes on them are fenced off once reclaimed.
 */
export class WorkerRegistry {
  private timer: NodeJS.Timeout | undefined;
  /** Whether a row was ever written: a worker whose start failed before that has nothing to remove. */
  private registered = false;

  constructor(
    private readonly db: Executor,
    private readonly schema: string,
    private readonly workerId: string,
    private readonly queues: readonly string[],
    private readonly intervalMs: number,
    private readonly events: WorkerEventEmitter,
    /** Where the measured offset of the host clock goes: the worker's stores read job status with it. */
    private readonly clockOffset: ClockOffset,
    /** What the worker runs now: written with every heartbeat (no statement of its own). */
    private readonly info: () => unknown = () => null,
  ) {}

  async start(): Promise<void> {
    await this.register();
    // Measure the host clock against the database's before the first claim (see ClockOffset).
    await this.beat();
    this.timer ??= setInterval(() => void this.beat(), this.intervalMs);
  }

  private async register(): Promise<void> {
    await workerRegister(this.db, this.schema, {
      id: this.workerId,
      queues: this.queues,
      hostname: hostname(),
      pid: process.pid,
      info: this.info(),
    });
    this.registered = true;
  }

  async beat(): Promise<void> {
    try {
      const sent = Date.now();
      const { alive, dbNow } = await workerHeartbeat(this.db, this.schema, this.workerId, this.info());
      // Database time is the only clock the queue uses; a skewed host clock only misleads logs and
      // handler code, but is worth a warning (compared at the midpoint of the round trip).
      const skewMs = Math.round((sent + Date.now()) / 2 - dbNow.getTime());
      this.clockOffset.observe(skewMs);
      if (Math.abs(skewMs) > CLOCK_SKEW_WARNING_MS) {
        this.events.emit('worker:clock-skew', { workerId: this.workerId, skewMs });
      }
      if (!alive) {
        this.events.emit('error', {
          error: new Error(`worker ${this.workerId} was presumed dead by another worker; registering again`),
          context: 'registry:evicted',
        });
        await this.register();
      }
    } catch (error) {
      this.events.emit('error', { error, context: 'registry:heartbeat' });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.registered) return;
    try {
      await workerUnregister(this.db, this.schema, this.workerId);
    } catch (error) {
      this.events.emit('error', { error, context: 'registry:unregister' });
    }
  }
}
