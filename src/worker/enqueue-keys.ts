import { keysPruneExpired, keysPruneOrphans, keysResolveFinished } from '../db/queries/enqueue-controls.js';
import { queueTables } from '../db/sql.js';
import type { StoreHost } from '../store/host.js';

/** Rows one statement touches at most, and rows one round touches at most per sweep. */
export const KEYS_BATCH_ROWS = 500;
export const KEYS_ROUND_ROWS = 5_000;

/**
 * The maintenance leader's sweep of the enqueue-control keys (migration 0007), in small batches:
 * 1. unique keys whose job is gone get their expiry (finish time + hold), so they free on time even when
 *    no enqueue of the key comes to look;
 * 2. rows past their expiry are deleted (an enqueue treats them as absent anyway);
 * 3. rows of dropped queues are deleted (a queue created again under the name starts over).
 * Returns how many rows each step touched.
 */
export async function sweepEnqueueKeys(
  host: StoreHost,
  queues: readonly string[],
  stopped: () => boolean,
): Promise<{ resolved: number; expired: number; orphans: number }> {
  const out = { resolved: 0, expired: 0, orphans: 0 };
  for (const q of queues) {
    const t = queueTables(host.schema, q);
    while (!stopped() && out.resolved < KEYS_ROUND_ROWS) {
      const n = await keysResolveFinished(host.db, t, KEYS_BATCH_ROWS);
      out.resolved += n;
      if (n < KEYS_BATCH_ROWS) break;
    }
  }
  while (!stopped() && out.expired < KEYS_ROUND_ROWS) {
    const n = await keysPruneExpired(host.db, host.schema, KEYS_BATCH_ROWS);
    out.expired += n;
    if (n < KEYS_BATCH_ROWS) break;
  }
  if (!stopped()) out.orphans = await keysPruneOrphans(host.db, host.schema, KEYS_BATCH_ROWS);
  return out;
}
