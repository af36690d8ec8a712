import { isConnectionError, type Executor } from '../db/executor.js';
import { jobInsert, jobInsertMany, sortForInsert, type JobInsert } from '../db/queries/job-insert.js';
import type { JobRow } from '../db/rows.js';
import type { QueueTables } from '../db/sql.js';

interface Pending {
  row: JobInsert;
  resolve: (row: JobRow) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent single enqueues into multi-row inserts. A call goes out at once while fewer than
 * `maxInFlight` statements are running; calls that arrive meanwhile wait and leave together in the next
 * statement. Nothing waits on a timer, so an idle queue sees no added latency, and a busy one pays one
 * commit for many jobs instead of one each.
 *
 * Only plain jobs are coalesced (no dedup or idempotency key, no parent): those cannot fail in the
 * database for reasons specific to one row, so sharing a statement never turns one caller's error into
 * another's. If a shared statement fails anyway, each job is retried alone so errors stay per call.
 */
export class EnqueueBatcher {
  private readonly waiting: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Executor,
    private readonly t: QueueTables,
    private readonly maxInFlight = 2,
    private readonly maxBatch = 1000,
  ) {}

  static eligible(row: JobInsert): boolean {
    return row.dedupKey === null && row.idempotencyKey === null && row.parentId === null;
  }

  submit(row: JobInsert): Promise<JobRow> {
    return new Promise<JobRow>((resolve, reject) => {
      this.waiting.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [p] = batch as [Pending];
      await this.insertOne(p);
      return;
    }
    const sorted = sortForInsert(batch.map((p) => ({ ...p, groupKey: p.row.groupKey })));
    try {
      const { rows } = await jobInsertMany(
        this.db,
        this.t,
        sorted.map((p) => p.row),
        null,
        true,
      );
      if (rows.length !== sorted.length) throw new Error(`coalesced insert returned ${rows.length} of ${sorted.length} rows`);
      // Ids are assigned in row order, so sorting by id lines rows up with the sorted input.
      rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      sorted.forEach((p, i) => p.resolve(rows[i]!));
    } catch (err) {
      if (isConnectionError(err)) {
        for (const p of sorted) p.reject(err);
        return;
      }
      await Promise.all(sorted.map((p) => this.insertOne(p)));
    }
  }

  private async insertOne(p: Pending): Promise<void> {
    try {
      const row = await jobInsert(this.db, this.t, p.row);
      if (!row) throw new Error('insert returned no row');
      p.resolve(row);
    } catch (err) {
      p.reject(err);
    }
  }
}
