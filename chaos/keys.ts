// Flow-control limits in the chaos run: a queue of its own with a queue cap and limits per key (one key
// with an override), fed at an even pace over the fault window. Every execution is recorded by the
// handler (chaos.key_exec: start, then end, each in its own statement, on the database's clock), so an
// independent recorder can check that no key, and not the queue, ever ran more jobs at once than its
// limit, through kill -9, pauses and a PostgreSQL restart. What was committed is recorded in the
// enqueue's own transaction (chaos.key_jobs), so a crash that leaves a commit's outcome unknown is
// resolved by reading that table, never by enqueueing twice.
import pg from 'pg';
import { Arbiter } from '../src/index.js';
import type { Job } from '../src/types.js';
import { CHAOS, LEASE_MS, MAX_ATTEMPTS, SCHEMA, hash01, rng, sleep } from './common.js';
import { commitOnce, inTransaction } from './tx.js';

export const KEY_QUEUE = 'chaos_keys';
/** The limits under test: at most QUEUE_CAP jobs of the queue, KEY_CAP per key, `k0` up to K0_CAP. */
export const QUEUE_CAP = 10;
export const KEY_CAP = 2;
export const K0_CAP = 3;
const KEYS = 8;

export const KEY_DDL = `
CREATE TABLE ${CHAOS}.key_jobs (k int PRIMARY KEY, key text NOT NULL, fail int NOT NULL);
CREATE TABLE ${CHAOS}.key_exec (id bigserial PRIMARY KEY, job_id bigint NOT NULL, k int NOT NULL,
  key text NOT NULL, attempt int NOT NULL, worker text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(), ended_at timestamptz, outcome text);
`;

export interface KeyPayload {
  k: number;
  f: 0 | 1 | 2;
}

export interface PlannedKeyJob {
  k: number;
  key: string;
  f: 0 | 1 | 2;
}

/** k values of this plan start here, away from the other plans' (handler durations hash on k). */
const K_START = 70_000_000;

/** One keyed job per 20 planned jobs, over KEYS keys, a few failing once and fewer always. */
export function buildKeyPlan(jobs: number, seed: number): PlannedKeyJob[] {
  const r = rng(seed);
  return Array.from({ length: Math.max(KEYS, Math.round(jobs / 20)) }, (_, i) => {
    const x = r();
    return { k: K_START + i, key: `k${i % KEYS}`, f: x < 0.01 ? 2 : x < 0.06 ? 1 : 0 };
  });
}

/** Sets the limits under test on the (created) queue. */
export async function setKeyLimits(arbiter: Arbiter): Promise<void> {
  await arbiter.setQueueLimits(KEY_QUEUE, { maxInFlight: QUEUE_CAP, perKey: { maxInFlight: KEY_CAP } });
  await arbiter.setKeyLimits(KEY_QUEUE, 'k0', { maxInFlight: K0_CAP, weight: 2 });
}

/** The chaos worker's config for the keyed queue: handlers that record their start and end. */
export function keyQueueConfig(rec: pg.Pool, worker: string) {
  const handler = async (job: Job<KeyPayload>) => {
    const p = job.payload;
    const key = job.limitKey ?? '';
    const { rows } = await rec.query<{ id: string }>(
      `INSERT INTO ${CHAOS}.key_exec (job_id, k, key, attempt, worker) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [job.id, p.k, key, job.attempts, worker],
    );
    const execId = rows[0]!.id;
    await sleep(5 + Math.floor(hash01(p.k, job.attempts) * 46));
    const threw = p.f === 2 || (p.f === 1 && job.attempts === 1);
    await rec.query(`UPDATE ${CHAOS}.key_exec SET ended_at = clock_timestamp(), outcome = $2 WHERE id = $1`, [
      execId,
      threw ? 'threw' : 'ok',
    ]);
    if (threw) throw new Error(`injected failure (k=${p.k}, attempt ${job.attempts})`);
    return { k: p.k };
  };
  return {
    leaseMs: LEASE_MS,
    backoff: { type: 'exponential' as const, baseMs: 500, factor: 2 },
    keepProcessed: true,
    handler,
  };
}

/** Enqueues the plan at an even pace over `spreadMs`, ten jobs per transaction, each committed once. */
export async function runKeyLoad(
  url: string,
  plan: PlannedKeyJob[],
  spreadMs: number,
  log: (line: string) => void,
): Promise<{ retries: number }> {
  const arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 2 });
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined);
  let retries = 0;
  const t0 = Date.now();
  try {
    for (let i = 0; i < plan.length; i += 10) {
      await sleep(Math.max(0, t0 + (i / plan.length) * spreadMs - Date.now()));
      const batch = plan.slice(i, i + 10);
      await commitOnce(
        () =>
          inTransaction(pool, async (client) => {
            await arbiter.queue<KeyPayload>(KEY_QUEUE).enqueueMany(
              batch.map((j) => ({ payload: { k: j.k, f: j.f }, limitKey: j.key, maxAttempts: MAX_ATTEMPTS })),
              { tx: client },
            );
            await client.query(
              `INSERT INTO ${CHAOS}.key_jobs (k, key, fail)
               SELECT unnest($1::int[]), unnest($2::text[]), unnest($3::int[])`,
              [batch.map((j) => j.k), batch.map((j) => j.key), batch.map((j) => j.f)],
            );
          }),
        async () =>
          (await pool.query(`SELECT 1 FROM ${CHAOS}.key_jobs WHERE k = $1`, [batch[0]!.k])).rows.length > 0
            ? true
            : null,
        (err) => {
          if (retries++ % 10 === 0) log(`key load: enqueue failed, retrying: ${String(err)}`);
        },
      );
    }
  } finally {
    await arbiter.close();
    await pool.end();
  }
  return { retries };
}

/** Keyed-queue work not finished: jobs still in the queue. */
export async function keysLeft(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${SCHEMA}"."${KEY_QUEUE}"`,
  );
  return rows[0]!.n;
}

export interface KeyExec {
  jobId: string;
  k: number;
  key: string;
  attempt: number;
  start: number;
  end: number | null;
  outcome: string | null;
}

export interface KeyHistory {
  planned: Map<number, { key: string; fail: number }>;
  execs: KeyExec[];
  /** k → the attempt whose completion was accepted (history) or that was dead-lettered. */
  finished: Map<number, { attempts: number; dead: boolean }[]>;
}

export async function loadKeyHistory(pool: pg.Pool): Promise<KeyHistory> {
  const planned = new Map<number, { key: string; fail: number }>();
  for (const r of (await pool.query(`SELECT k, key, fail FROM ${CHAOS}.key_jobs`)).rows)
    planned.set(r.k as number, { key: r.key as string, fail: r.fail as number });
  const execs: KeyExec[] = (
    await pool.query(
      `SELECT job_id::text, k, key, attempt, extract(epoch FROM started_at) * 1000 AS s,
              extract(epoch FROM ended_at) * 1000 AS e, outcome FROM ${CHAOS}.key_exec`,
    )
  ).rows.map((r) => ({
    jobId: r.job_id as string,
    k: r.k as number,
    key: r.key as string,
    attempt: r.attempt as number,
    start: Number(r.s),
    end: r.e === null ? null : Number(r.e),
    outcome: r.outcome as string | null,
  }));
  const finished = new Map<number, { attempts: number; dead: boolean }[]>();
  const add = (k: number, v: { attempts: number; dead: boolean }) =>
    finished.set(k, [...(finished.get(k) ?? []), v]);
  for (const r of (
    await pool.query(`SELECT (payload ->> 'k')::int AS k, attempts FROM "${SCHEMA}"."${KEY_QUEUE}_history"`)
  ).rows)
    add(r.k as number, { attempts: r.attempts as number, dead: false });
  for (const r of (
    await pool.query(`SELECT (payload ->> 'k')::int AS k, attempts FROM "${SCHEMA}"."${KEY_QUEUE}_dlq"`)
  ).rows)
    add(r.k as number, { attempts: r.attempts as number, dead: true });
  return { planned, execs, finished };
}

export interface KeyFigures {
  jobs: number;
  missing: number;
  multi_terminal: number;
  /** Largest number of a key's (or the queue's) valid runs at one instant above its limit. */
  key_over: number;
  queue_over: number;
  /** Most runs seen at once: of one key, and of the queue (the limits were reached). */
  key_peak: number;
  queue_peak: number;
  details: string[];
}

/**
 * The runs that held a lease from start to end, as the recorder can tell: a run whose completion was
 * accepted (its attempt is the one in history or the dead letters), and a run that threw and whose
 * retry was accepted (the next attempt started after it ended). Runs killed mid-way, and runs whose
 * write was fenced (a paused worker's, after its lease was reclaimed), are left out: a lost lease
 * counts until reclaimed, which the recorder cannot see.
 */
function validRuns(h: KeyHistory): KeyExec[] {
  const byJob = new Map<number, KeyExec[]>();
  for (const e of h.execs) byJob.set(e.k, [...(byJob.get(e.k) ?? []), e]);
  const out: KeyExec[] = [];
  for (const [k, execs] of byJob) {
    const fin = h.finished.get(k)?.[0];
    for (const e of execs) {
      if (e.end === null) continue;
      if (fin && e.attempt === fin.attempts && (e.outcome === 'ok' || fin.dead)) {
        out.push(e);
        continue;
      }
      const next = execs.find((x) => x.attempt === e.attempt + 1);
      if (e.outcome === 'threw' && next && next.start >= e.end) out.push(e);
    }
  }
  return out;
}

/** The most runs at once, over intervals [start, end) of the given runs. */
function peak(runs: KeyExec[]): number {
  const points: [number, number][] = [];
  for (const r of runs) points.push([r.start, 1], [r.end!, -1]);
  // Ends before starts at the same instant: a run that ended lets the next start.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of points) most = Math.max(most, (now += d));
  return most;
}

export function checkKeys(h: KeyHistory): KeyFigures {
  const fig: KeyFigures = {
    jobs: h.planned.size,
    missing: 0,
    multi_terminal: 0,
    key_over: 0,
    queue_over: 0,
    key_peak: 0,
    queue_peak: 0,
    details: [],
  };
  for (const [k, p] of h.planned) {
    const fin = h.finished.get(k) ?? [];
    if (fin.length === 0) {
      fig.missing++;
      fig.details.push(`keyed job k=${k} (key ${p.key}) never finished`);
    } else if (fin.length > 1) {
      fig.multi_terminal++;
      fig.details.push(`keyed job k=${k} finished ${fin.length} times`);
    }
  }
  const runs = validRuns(h);
  const byKey = new Map<string, KeyExec[]>();
  for (const r of runs) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const [key, rs] of byKey) {
    const most = peak(rs);
    const limit = key === 'k0' ? K0_CAP : KEY_CAP;
    fig.key_peak = Math.max(fig.key_peak, most);
    if (most > limit) {
      fig.key_over = Math.max(fig.key_over, most - limit);
      fig.details.push(`key ${key}: ${most} runs at once, limit ${limit}`);
    }
  }
  fig.queue_peak = peak(runs);
  if (fig.queue_peak > QUEUE_CAP) {
    fig.queue_over = fig.queue_peak - QUEUE_CAP;
    fig.details.push(`queue ${KEY_QUEUE}: ${fig.queue_peak} runs at once, cap ${QUEUE_CAP}`);
  }
  return fig;
}

export function keysPass(f: KeyFigures): boolean {
  return f.jobs > 0 && f.missing === 0 && f.multi_terminal === 0 && f.key_over === 0 && f.queue_over === 0;
}

export function keySummary(f: KeyFigures): string[] {
  return [
    `keyed=${f.jobs}`,
    `keyed_missing=${f.missing}`,
    `keyed_multi=${f.multi_terminal}`,
    `key_over=${f.key_over}`,
    `key_peak=${f.key_peak}`,
    `queue_cap_over=${f.queue_over}`,
    `queue_peak=${f.queue_peak}`,
  ];
}
