import type { ProgressWrite } from '../db/queries/job-progress.js';
import type { JobStore } from '../store/job-store.js';
import type { ReportSink } from './progress.js';

/** Most reports one statement writes. */
const MAX_BATCH = 500;

interface Pending {
  write: ProgressWrite;
  resolve: (ok: boolean) => void;
  reject: (error: unknown) => void;
}

interface QueueBuffer {
  store: JobStore;
  pending: Pending[];
  busy: boolean;
}

/**
 * Gathers the reports of every running job of a worker into few statements: per queue, one statement is
 * in flight at a time, and the reports that arrive meanwhile leave together when it returns (the batch
 * grows with the load, and a lone report leaves at once). One commit per batch instead of one per job.
 */
export class ReportBatcher {
  private readonly buffers = new Map<string, QueueBuffer>();

  write(store: JobStore, write: ProgressWrite): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let buf = this.buffers.get(store.queue);
      if (!buf) this.buffers.set(store.queue, (buf = { store, pending: [], busy: false }));
      buf.pending.push({ write, resolve, reject });
      // Reports made in the same turn (many handlers finishing together) share the first statement.
      if (!buf.busy) {
        buf.busy = true;
        setImmediate(() => void this.flush(buf));
      }
    });
  }

  /**
   * Takes back a write not yet sent (its promise resolves true: the caller writes it another way, with the
   * job's outcome). False when it already left, or was never here.
   */
  withdraw(queue: string, write: ProgressWrite): boolean {
    const buf = this.buffers.get(queue);
    const i = buf ? buf.pending.findIndex((p) => p.write === write) : -1;
    if (i < 0) return false;
    const [p] = buf!.pending.splice(i, 1);
    p!.resolve(true);
    return true;
  }

  private async flush(buf: QueueBuffer): Promise<void> {
    while (buf.pending.length > 0) {
      // One write per job per statement (ON CONFLICT cannot touch a row twice): a second one waits.
      const batch: Pending[] = [];
      const ids = new Set<string>();
      const rest: Pending[] = [];
      for (const p of buf.pending) {
        if (batch.length < MAX_BATCH && !ids.has(p.write.id)) {
          ids.add(p.write.id);
          batch.push(p);
        } else rest.push(p);
      }
      buf.pending = rest;
      try {
        const written = await buf.store.writeProgressMany(batch.map((p) => p.write));
        for (const p of batch) p.resolve(written.has(p.write.id));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    buf.busy = false;
  }
}

/** The runner's report sink over a batcher: each job's reports go to its queue's store. */
export function batchedReports(batcher: ReportBatcher, storeOf: (queue: string) => JobStore): ReportSink {
  return (job, write) => batcher.write(storeOf(job.queue), write);
}
