import type { Queue } from '../client/queue.js';
import { toJobId } from '../core/ids.js';
import { checkOptions, durationMs, LIMITS } from '../core/validate.js';
import type { JobId } from '../types.js';

export interface MakeDueOptions {
  /** Only these jobs. Default: every job of the queue. */
  ids?: readonly (JobId | number | bigint)[];
  /** Only jobs due within this many ms from now (e.g. the next hour). Default: however far off. */
  withinMs?: number;
}

/**
 * Makes jobs waiting for a time due now, as if that time had come: jobs scheduled with `delayMs`/`runAt`,
 * retries waiting for their backoff, snoozed jobs. Jobs in flight, suspended jobs and parents waiting for
 * their children are left alone. Groups follow (a retry that held its group releases it). Returns how
 * many jobs were made due; `drain` or a running worker then runs them.
 */
export async function makeDue<P>(queue: Queue<P>, options: MakeDueOptions = {}): Promise<number> {
  const o = checkOptions<MakeDueOptions>(options, 'options', ['ids', 'withinMs']);
  const ids =
    o.ids === undefined
      ? null
      : Array.isArray(o.ids)
        ? o.ids.map((id, i) => toJobId(id, `options.ids[${i}]`))
        : [toJobId(o.ids as never, 'options.ids')];
  const within =
    o.withinMs === undefined ? null : durationMs(o.withinMs, 'options.withinMs', LIMITS.maxDelayMs);
  const t = queue.tables;
  return queue.store.run(async () => {
    const res = await queue.store.db.query(
      `UPDATE ${t.jobs} j SET run_at = now(), updated_at = now()
       WHERE j.run_at > now() AND j.leased_until IS NULL AND NOT j.suspended
         AND ($1::bigint[] IS NULL OR j.id = ANY($1::bigint[]))
         AND ($2::bigint IS NULL OR j.run_at <= now() + $2::bigint * interval '1 millisecond')`,
      [ids, within],
    );
    return res.rowCount;
  });
}
