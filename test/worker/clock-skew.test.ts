// R4 clock skew: a worker process whose wall clock is 10 minutes ahead or behind the database behaves
// exactly like one with a correct clock, because database time is the only clock: delays, leases,
// backoff, cron ticks and dead-worker detection are all decided by now() in PostgreSQL.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killChildren, startChild } from '../support/child-process.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
const TEN_MINUTES = 10 * 60_000;

beforeAll(async () => {
  await t.pool
    .query(`CREATE TABLE "${t.schema}".runs (queue text, job_id bigint, attempt int, status text, phase text,
    tick text, created_at timestamptz, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
});
afterEach(stopAll);
afterAll(killChildren);

/** The skewed worker: its wall clock (Date) shifted by `skewMs` by the skew-clock preload. */
async function spawnSkewed(queue: string, workerId: string, skewMs: number) {
  const w = await startChild(
    'skew-worker',
    {
      DATABASE_URL: databaseUrl(),
      SCHEMA: t.schema,
      QUEUE: queue,
      WORKER_ID: workerId,
      LEASE_MS: '1000',
      CRON: `${queue}_every_second`,
      CLOCK_SKEW_MS: String(skewMs),
    },
    ['skew-clock'],
  );
  return { child: w.child, output: w.output, exited: w.exited.then((e) => e.code) };
}

interface Run {
  job_id: string;
  attempt: number;
  status: string;
  phase: string;
  at: Date;
}

async function runs(queue: string, jobId: string): Promise<Run[]> {
  const { rows } = await t.pool.query<Run>(
    `SELECT job_id::text, attempt, status, phase, at FROM "${t.schema}".runs
     WHERE queue = $1 AND job_id = $2 ORDER BY at`,
    [queue, jobId],
  );
  return rows;
}

describe.each([
  ['ahead of', 'ahead', TEN_MINUTES],
  ['behind', 'behind', -TEN_MINUTES],
])('a worker whose clock is 10 minutes %s the database clock', (_, label, skewMs) => {
  it('runs delayed jobs, keeps leases, backs off, fires cron and stays alive on database time', async () => {
    const queue = `skew_${label}`;
    const q = await t.arbiter.createQueue<{ ms?: number; failOnce?: boolean }>(queue);
    await t.arbiter.createQueue('skew_peer');
    // A healthy peer (correct clock) holds the maintenance leadership: it is the one that would release
    // the skewed worker's jobs if it judged that worker dead, or recover leases it judged expired.
    const released: string[] = [];
    const recovered: number[] = [];
    const peer = await startWorker(t.arbiter, { queues: { skew_peer: { handler: () => undefined } } });
    peer.on('maintenance:workers-released', (e) => released.push(...e.workers));
    peer.on('maintenance:stale-recovered', (e) => e.queue === queue && recovered.push(e.retried + e.dead));
    await waitFor(() => peer.isLeader, 'peer is the maintenance leader', 5_000);

    const workerId = `skewed-${label}`;
    const skewed = await spawnSkewed(queue, workerId, skewMs);
    const { rows: reg } = await t.pool.query<{ started_at: Date }>(
      `SELECT started_at FROM "${t.schema}"._workers WHERE id = $1`,
      [workerId],
    );
    expect(reg).toHaveLength(1);

    // The skew is real (the worker itself reports it against the database clock)…
    await waitFor(() => /skew (-?\d+)/.test(skewed.output()), 'clock-skew warning', 5_000);
    const reported = Number(/skew (-?\d+)/.exec(skewed.output())![1]);
    expect(Math.abs(reported - skewMs)).toBeLessThan(5_000);

    // …a job delayed 1 s runs after about 1 s of database time (not at once, not after 10 minutes)…
    const delayed = (await q.enqueue({}, { delayMs: 1_000 }))!;
    // …a job running 3 leases long keeps its lease (heartbeats) and runs exactly once…
    const long = (await q.enqueue({ ms: 3_000 }))!;
    // …a failing job is retried after its backoff (500 ms), not 10 minutes early or late.
    const flaky = (await q.enqueue({ failOnce: true }))!;

    await waitFor(
      async () => (await runs(queue, delayed.id)).some((r) => r.phase === 'finished'),
      'delayed job',
      10_000,
    );
    const [delayedStart] = await runs(queue, delayed.id);
    const waitedMs = delayedStart!.at.getTime() - delayed.createdAt.getTime();
    expect(waitedMs).toBeGreaterThanOrEqual(950);
    expect(waitedMs).toBeLessThan(5_000);

    await waitFor(
      async () => (await runs(queue, flaky.id)).some((r) => r.phase === 'finished'),
      'retried job',
      10_000,
    );
    const flakyRuns = await runs(queue, flaky.id);
    const threw = flakyRuns.find((r) => r.phase === 'threw')!;
    const second = flakyRuns.find((r) => r.phase === 'started' && r.attempt === 2)!;
    const backoffMs = second.at.getTime() - threw.at.getTime();
    expect(backoffMs).toBeGreaterThanOrEqual(400);
    expect(backoffMs).toBeLessThan(5_000);

    await waitFor(
      async () => (await runs(queue, long.id)).some((r) => r.phase === 'finished'),
      'long job',
      15_000,
    );
    const longRuns = await runs(queue, long.id);
    expect(longRuns.map((r) => `${r.phase}:${r.attempt}`)).toEqual(['started:1', 'finished:1']);
    // A job seen by its handler is running: its status is derived on database time, not the host's.
    expect(longRuns[0]!.status).toBe('in-flight');
    expect(skewed.output()).not.toContain('lease-lost');

    // Cron fired on database time: one job per second tick, each within a few seconds of its tick.
    const { rows: cron } = await t.pool.query<{ tick: string; created_at: Date }>(
      `SELECT tick, created_at FROM "${t.schema}".runs WHERE queue = $1 AND phase = 'started' AND tick IS NOT NULL ORDER BY tick`,
      [queue],
    );
    expect(cron.length).toBeGreaterThanOrEqual(2);
    expect(new Set(cron.map((c) => c.tick)).size).toBe(cron.length); // no tick fired twice
    for (const c of cron) expect(Math.abs(c.created_at.getTime() - Date.parse(c.tick))).toBeLessThan(3_000);

    // Never presumed dead by the healthy peer; nothing of its queue recovered as stale.
    const { rows: still } = await t.pool.query<{ started_at: Date }>(
      `SELECT started_at FROM "${t.schema}"._workers WHERE id = $1`,
      [workerId],
    );
    expect(still[0]?.started_at.getTime()).toBe(reg[0]!.started_at.getTime());
    expect(released).not.toContain(workerId);
    expect(recovered).toEqual([]);
    expect(skewed.output()).not.toMatch(/error registry|evicted/);

    skewed.child.kill('SIGTERM');
    expect(await skewed.exited).toBe(0);
  });
});
