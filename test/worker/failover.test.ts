// R3 failover simulation: the database turns read-only (default_transaction_read_only = on, sessions
// terminated, as when a primary is demoted) or stops accepting connections. The worker must not spin
// or flood its error stream: 'error' events are rate-limited per context (first at once, then at most one
// per second, with a suppressed count), and it resumes by itself once writes work again.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionError } from '../../src/core/connection-errors.js';
import { Arbiter, type Job } from '../../src/index.js';
import type { Worker } from '../../src/worker/index.js';
import { useOwnDatabase, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
const own = useOwnDatabase(t, 'arbiter_failover');
const DB = own.name;
const SCHEMA = 'failover';
let url: string;
let arbiter: Arbiter;

beforeAll(async () => {
  url = own.url;
  arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 6 });
  await arbiter.migrate();
  await arbiter.createQueue('jobs');
});
afterEach(stopAll);
afterAll(async () => {
  await arbiter?.close();
});

/** Ends every session on the failover database (ours are on the test database). */
async function terminateSessions(): Promise<void> {
  await t.pool.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [DB],
  );
}

/** Enqueues through a fresh connection (the test's pooled ones may still be read-only sessions). */
async function enqueueFresh(payload: { n: number }): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await new Arbiter({ executor: client, schema: SCHEMA }).queue('jobs').enqueue(payload);
  } finally {
    await client.end();
  }
}

interface Seen {
  context: string;
  suppressed: number;
  at: number;
  code: string | undefined;
  error: unknown;
}

async function startRecordingWorker(done: number[]): Promise<{ worker: Worker; errors: Seen[] }> {
  const errors: Seen[] = [];
  const worker = await startWorker(arbiter, {
    queues: { jobs: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
  });
  worker.on('error', (e) =>
    errors.push({
      context: e.context,
      suppressed: e.suppressed ?? 0,
      at: performance.now(),
      code: (e.error as { code?: string } | null)?.code,
      error: e.error,
    }),
  );
  return { worker, errors };
}

/** Asserts the rate limit over a fault window and returns the figures for the report. */
function checkRateLimited(errors: Seen[], windowMs: number) {
  expect(errors.length).toBeGreaterThan(0);
  const byContext = new Map<string, Seen[]>();
  for (const e of errors) byContext.set(e.context, [...(byContext.get(e.context) ?? []), e]);
  for (const [context, list] of byContext) {
    // First at once, then at most one per second (a little slack for timer jitter).
    for (let i = 1; i < list.length; i++) {
      expect(list[i]!.at - list[i - 1]!.at, `${context} events ${i - 1}→${i}`).toBeGreaterThanOrEqual(900);
    }
    expect(list.length, context).toBeLessThanOrEqual(Math.ceil(windowMs / 1000) + 2);
  }
  // Database-unavailable errors share one bucket: at most about one event per second per worker overall.
  expect(errors.length).toBeLessThanOrEqual(Math.ceil(windowMs / 1000) + 2);
  const occurrences = errors.reduce((n, e) => n + 1 + e.suppressed, 0);
  const perSecond = occurrences / (windowMs / 1000);
  const eventsPerSecond = errors.length / (windowMs / 1000);
  // No tight loop: every loop retries at its interval or backs off (poll 100 ms, heartbeats 200 ms…).
  expect(perSecond).toBeLessThan(100);
  // The limiter did its job: repeated errors were folded into suppressed counts.
  expect(errors.some((e) => e.suppressed > 0)).toBe(true);
  return { contexts: byContext.size, occurrences, perSecond, eventsPerSecond };
}

describe('failover and outage: error events are rate-limited and the worker resumes by itself', () => {
  it('database turned read-only (failover simulation), then writable again', async () => {
    const done: number[] = [];
    const { errors } = await startRecordingWorker(done);
    await enqueueFresh({ n: 1 });
    await waitFor(() => done.includes(1), 'job before the failover', 5_000);

    await t.pool.query(`ALTER DATABASE "${DB}" SET default_transaction_read_only = on`);
    await terminateSessions();
    // The fault lasts until the limiter has summed up suppressed errors three times (about 3 s).
    const from = performance.now();
    await waitFor(() => errors.filter((e) => e.suppressed > 0).length >= 3, 'three summaries', 20_000);
    const windowMs = performance.now() - from;
    const during = errors.splice(0);
    const figures = checkRateLimited(during, windowMs);
    // The writes were refused as read-only (or the sessions were cut), nothing else.
    const unexpected = during.filter((e) => e.code !== '25006' && !isConnectionError(e.error));
    expect(unexpected.map((e) => `${e.context}: ${String(e.error)}`)).toEqual([]);
    expect(during.some((e) => e.code === '25006')).toBe(true);

    // Writable again, without terminating the read-only sessions: the worker must find its way back.
    await t.pool.query(`ALTER DATABASE "${DB}" RESET default_transaction_read_only`);
    const back = performance.now();
    await enqueueFresh({ n: 2 });
    await waitFor(() => done.includes(2), 'job after the failover', 10_000);
    const resumeMs = performance.now() - back;
    expect(resumeMs).toBeLessThan(5_000);
    console.log(
      `[failover read-only] ${figures.occurrences} errors in ${windowMs} ms (${figures.perSecond.toFixed(1)}/s) → ` +
        `${during.length} events (${figures.eventsPerSecond.toFixed(1)}/s, ${figures.contexts} contexts); resumed in ${Math.round(resumeMs)} ms`,
    );
  });

  it('database not accepting connections (outage), then back', async () => {
    const done: number[] = [];
    const { errors } = await startRecordingWorker(done);
    await enqueueFresh({ n: 10 });
    await waitFor(() => done.includes(10), 'job before the outage', 5_000);

    await t.pool.query(`ALTER DATABASE "${DB}" ALLOW_CONNECTIONS false`);
    await terminateSessions();
    // The outage lasts until the limiter has summed up suppressed errors three times (about 3 s).
    const from = performance.now();
    let windowMs: number;
    try {
      await waitFor(() => errors.filter((e) => e.suppressed > 0).length >= 3, 'three summaries', 20_000);
    } finally {
      windowMs = performance.now() - from;
      await t.pool.query(`ALTER DATABASE "${DB}" ALLOW_CONNECTIONS true`);
    }
    const back = performance.now();
    const during = errors.splice(0);
    const figures = checkRateLimited(during, windowMs);

    await enqueueFresh({ n: 11 });
    await waitFor(() => done.includes(11), 'job after the outage', 10_000);
    const resumeMs = performance.now() - back;
    expect(resumeMs).toBeLessThan(5_000);
    console.log(
      `[outage] ${figures.occurrences} errors in ${windowMs} ms (${figures.perSecond.toFixed(1)}/s) → ` +
        `${during.length} events (${figures.eventsPerSecond.toFixed(1)}/s, ${figures.contexts} contexts); resumed in ${Math.round(resumeMs)} ms`,
    );
  });
});
