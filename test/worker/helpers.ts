import type pg from 'pg';
import type { Arbiter } from '../../src/index.js';
import { createWorker, type Worker, type WorkerOptions } from '../../src/worker/index.js';

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A poll interval far longer than any wait in the wake-up tests: a job they see run was woken (NOTIFY,
 * a group moving on, a due time), never found by a poll.
 */
export const SLOW_POLL_MS = 10_000;

/** Short intervals so the suite runs fast; signals off (vitest owns the process). */
export const FAST = {
  pollIntervalMs: 100,
  heartbeatIntervalMs: 200,
  deadWorkerThresholdMs: 1_500,
  maintenanceIntervalMs: 200,
  listenerCheckIntervalMs: 200,
  listenerCheckTimeoutMs: 500,
  triggerCheckIntervalMs: 300,
  shutdownTimeoutMs: 2_000,
  handleSignals: false,
  completionFlushMs: 5,
} as const;

const started: Worker[] = [];

export async function startWorker<P extends Record<string, unknown>>(
  arbiter: Arbiter,
  options: Omit<WorkerOptions<P>, 'arbiter'>,
): Promise<Worker<P>> {
  const w = createWorker<P>({ ...FAST, ...options, arbiter } as WorkerOptions<P>);
  w.on('error', (e) => {
    if (process.env.ARBITER_TEST_DEBUG) console.error('[worker error]', e.context, e.error);
  });
  await w.start();
  started.push(w as unknown as Worker);
  return w;
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((w) => w.stop({ timeoutMs: 500 })));
}

export async function count(pool: pg.Pool, schema: string, table: string, where = 'true'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}"."${table}" WHERE ${where}`,
  );
  return Number(rows[0]!.n);
}
