// The chaos worker's handler for the wait queue (waits.ts): one ctx.waitFor per job, and an independent
// record of what it returned on each run that got past it (chaos.wait_seen): the payload, or the timeout.
// A run parked by the wait ends inside waitFor (ParkedError) and records nothing.
import type pg from 'pg';
import { WaitTimeoutError } from '../src/index.js';
import type { Job } from '../src/types.js';
import type { JobContext } from '../src/worker/index.js';
import { CHAOS, LEASE_MS } from './common.js';
import { waitEvent, type WaitPayload } from './waits.js';

export function waitQueueConfig(rec: pg.Pool, worker: string) {
  const handler = async (job: Job<WaitPayload>, ctx: JobContext) => {
    const p = job.payload;
    let seen: 'event' | 'timeout' = 'event';
    let payload: unknown = null;
    try {
      payload = await ctx.waitFor(waitEvent(p.w), { timeoutMs: p.t });
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      seen = 'timeout';
    }
    await rec.query(
      `INSERT INTO ${CHAOS}.wait_seen (job_id, attempt, seen, payload, worker) VALUES ($1, $2, $3, $4, $5)`,
      [job.id, job.attempts, seen, JSON.stringify(payload), worker],
    );
    return { w: p.w, seen };
  };
  return {
    leaseMs: LEASE_MS,
    // Finished jobs stay in the history table, so their steps (Arbiter's record of each release) are kept
    // for the checker.
    keepProcessed: true,
    backoff: { type: 'exponential' as const, baseMs: 500, factor: 2 },
    handler,
  };
}
