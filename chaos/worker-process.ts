// One chaos worker process. Env: DATABASE_URL, WORKER_NAME, CONCURRENCY.
// Every execution is recorded in chaos.exec (start row, then end row, each in its own transaction).
// Prints "ready" once running; SIGTERM stops it gracefully.
import pg from 'pg';
import { Arbiter } from '../src/index.js';
import { createWorker, type JobContext } from '../src/worker/index.js';
import type { Job } from '../src/types.js';
import {
  CHAOS,
  LEASE_MS,
  QUEUES,
  SCHEMA,
  STEPS,
  hash01,
  sleep,
  withAppName,
  type ChaosPayload,
} from './common.js';
import { flowQueueConfig } from './flow-worker.js';
import { FLOW_QUEUE } from './flows.js';
import { KEY_QUEUE, keyQueueConfig } from './keys.js';
import { waitQueueConfig } from './wait-worker.js';
import { WAIT_QUEUE } from './waits.js';

const url = process.env.DATABASE_URL!;
const name = process.env.WORKER_NAME!;
const concurrency = Number(process.env.CONCURRENCY ?? '8');
const arbiter = new Arbiter({ connectionString: withAppName(url, name), schema: SCHEMA, poolSize: 10 });
// Recording and the transactional queue's own transactions use a separate pool.
const rec = new pg.Pool({ connectionString: withAppName(url, `${name}-rec`), max: 10 });
rec.on('error', () => undefined);

async function record(text: string, values: unknown[]): Promise<void> {
  await rec.query(text, values);
}

function handlerFor(queue: string) {
  return async (job: Job<ChaosPayload>, ctx: JobContext) => {
    const p = job.payload;
    const { rows } = await rec.query<{ id: string }>(
      `INSERT INTO ${CHAOS}.exec (job_id, queue, attempt, max_attempts, worker, group_key)
       VALUES ($1,$2,$3,$4,$5,$6) RETURNING id`,
      [job.id, queue, job.attempts, job.maxAttempts, name, job.groupKey],
    );
    const execId = rows[0]!.id;
    let pending: number | null = null;
    let seen: number | null = null;
    if (job.isRollup) {
      // Checked at run time: a finalizer must never start while one of its children is still queued.
      const r = await rec.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${SCHEMA}"."${queue}" WHERE parent_id = $1`,
        [job.id],
      );
      pending = r.rows[0]!.n;
      seen = ctx.children.size;
    }
    if (queue === QUEUES.hist) {
      // Durable steps: a step whose result is recorded must never run again (chaos.step_effects
      // against _steps.finished_at); a run killed between a step's effect and its record may repeat it.
      for (const step of STEPS)
        await ctx.step(step, async () => {
          await rec.query(
            `INSERT INTO ${CHAOS}.step_effects (job_id, step, attempt, worker) VALUES ($1, $2, $3, $4)`,
            [job.id, step, job.attempts, name],
          );
          return { step, attempt: job.attempts };
        });
    }
    await sleep(5 + Math.floor(hash01(p.k, job.attempts) * 46));
    if (p.f === 2 || (p.f === 1 && job.attempts === 1)) {
      await record(`UPDATE ${CHAOS}.exec SET ended_at = clock_timestamp(), outcome = 'threw' WHERE id = $1`, [
        execId,
      ]);
      throw new Error(`injected failure (k=${p.k}, attempt ${job.attempts})`);
    }
    await record(
      `UPDATE ${CHAOS}.exec SET ended_at = clock_timestamp(), outcome = 'ok', children_pending = $2,
        children_seen = $3 WHERE id = $1`,
      [execId, pending, seen],
    );
    const result = { k: p.k };
    if (queue !== QUEUES.tx) return result;
    // Transactional mode: the effect row and the ack commit together or not at all.
    const client = await rec.connect();
    // A checked-out pg client whose connection dies emits 'error': without a listener that is an
    // uncaught exception. The failure itself reaches us through the pending query.
    const swallow = () => undefined;
    client.on('error', swallow);
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${CHAOS}.effects (job_id, attempt, worker) VALUES ($1,$2,$3)`, [
        job.id,
        job.attempts,
        name,
      ]);
      const q = arbiter.queue<ChaosPayload>(queue).using(client);
      const n = await q.ack(job, job.parentId !== null ? { result } : {});
      await client.query(n === 1 ? 'COMMIT' : 'ROLLBACK');
      if (n !== 1) {
        await record(`UPDATE ${CHAOS}.exec SET outcome = 'tx-fenced' WHERE id = $1`, [execId]).catch(
          () => undefined,
        );
      }
    } catch (err) {
      broken = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', swallow);
      client.release(broken ? true : undefined);
    }
    // Already acked in our transaction: the worker's own ack of a removed job is fenced and harmless.
    return ctx.remove();
  };
}

const queueConfig = (queue: string) => ({
  leaseMs: LEASE_MS,
  backoff: { type: 'exponential' as const, baseMs: 500, factor: 2 },
  keepProcessed: queue === QUEUES.hist,
  handler: handlerFor(queue),
});

const makeWorker = () =>
  createWorker({
    arbiter,
    workerId: name,
    concurrency,
    pollIntervalMs: 500,
    heartbeatIntervalMs: 1_000,
    deadWorkerThresholdMs: 3_000,
    maintenanceIntervalMs: 1_000,
    listenerCheckIntervalMs: 2_000,
    shutdownTimeoutMs: 10_000,
    queues: {
      [QUEUES.tx]: queueConfig(QUEUES.tx),
      [QUEUES.hist]: queueConfig(QUEUES.hist),
      [QUEUES.plain]: queueConfig(QUEUES.plain),
      [FLOW_QUEUE]: flowQueueConfig(arbiter, rec, name),
      [KEY_QUEUE]: keyQueueConfig(rec, name),
      [WAIT_QUEUE]: waitQueueConfig(rec, name),
    },
  });

// Best-effort record of what the worker says it wrote (an accepted write that is followed by a SIGKILL
// before this insert lands is not recorded; the checker knows that).
const ackRow = (kind: string) => (e: { queue: string; job: Job }) =>
  void record(`INSERT INTO ${CHAOS}.acks (job_id, queue, attempt, worker, kind) VALUES ($1,$2,$3,$4,$5)`, [
    e.job.id,
    e.queue,
    e.job.attempts,
    name,
    kind,
  ]).catch(() => undefined);
function subscribe(worker: ReturnType<typeof makeWorker>) {
  worker.on('job:succeeded', ackRow('ack'));
  worker.on('job:dead', ackRow('dead'));
  worker.on('job:retried', ackRow('retry'));
  worker.on('job:lease-lost', (e) => ackRow(`lost-${e.status}`)(e));
  worker.on('error', (e) => {
    const msg = e.error instanceof Error ? e.error.message : String(e.error);
    process.stderr.write(`[${name}] error ${e.context}: ${msg}\n`);
  });
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(`[${name}] unhandled rejection: ${String(err)}\n`);
});

// A replacement started while PostgreSQL is down (or still recovering) cannot register; like a process
// supervisor would, try again instead of dying: the suite counts only deaths it did not cause.
let worker = makeWorker();
subscribe(worker);
for (let attempt = 1; ; attempt++) {
  try {
    await worker.start();
    break;
  } catch (err) {
    if (attempt >= 60) throw err;
    process.stderr.write(`[${name}] start failed (${String(err)}), retrying\n`);
    await sleep(500);
    worker = makeWorker();
    subscribe(worker);
  }
}
process.stdout.write('ready\n');
await worker.wait();
await arbiter.close();
await rec.end();
process.stdout.write('stopped\n');
