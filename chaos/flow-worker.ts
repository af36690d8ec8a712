// The chaos worker's handler for the flow queue (flow nodes and awaited-result jobs). Each execution is
// recorded in chaos.exec like the other queues'; a flow node also records what its dependencies were at
// run time (arbiter.flows.dependencies): children_pending = dependencies not finished (must be 0),
// children_seen = dependencies succeeded (all of them, unless the node runs under 'continue').
import type pg from 'pg';
import type { Arbiter } from '../src/index.js';
import type { Job } from '../src/types.js';
import { CHAOS, LEASE_MS, hash01, sleep } from './common.js';
import { FLOW_QUEUE, type FlowPayload, type FlowResult } from './flows.js';

export function flowQueueConfig(arbiter: Arbiter, rec: pg.Pool, worker: string) {
  const handler = async (job: Job<FlowPayload>): Promise<FlowResult> => {
    const p = job.payload;
    const { rows } = await rec.query<{ id: string }>(
      `INSERT INTO ${CHAOS}.exec (job_id, queue, attempt, max_attempts, worker)
       VALUES ($1,$2,$3,$4,$5) RETURNING id`,
      [job.id, FLOW_QUEUE, job.attempts, job.maxAttempts, worker],
    );
    const execId = rows[0]!.id;
    let unfinished: number | null = null;
    let succeeded: number | null = null;
    if (p.n !== undefined) {
      const deps = Object.values(await arbiter.flows.dependencies(job));
      unfinished = deps.filter((d) => d.state === 'unfinished').length;
      succeeded = deps.filter((d) => d.state === 'succeeded').length;
    }
    await sleep(5 + Math.floor(hash01(p.k, job.attempts) * 46));
    if (p.f === 2 || (p.f === 1 && job.attempts === 1)) {
      await rec.query(
        `UPDATE ${CHAOS}.exec SET ended_at = clock_timestamp(), outcome = 'threw' WHERE id = $1`,
        [execId],
      );
      throw new Error(`injected failure (k=${p.k}, attempt ${job.attempts})`);
    }
    await rec.query(
      `UPDATE ${CHAOS}.exec SET ended_at = clock_timestamp(), outcome = 'ok', children_pending = $2,
        children_seen = $3 WHERE id = $1`,
      [execId, unfinished, succeeded],
    );
    return { k: p.k };
  };
  return {
    leaseMs: LEASE_MS,
    backoff: { type: 'exponential' as const, baseMs: 500, factor: 2 },
    handler,
  };
}
