// ctx.waitFor in the chaos run: jobs on a queue of their own each wait for one event of their own
// (`chaos:wait:<w>`) with a timeout, while this process emits events at random moments:
//   emit      emitted once, within 8 s of the enqueue; the timeout (10 min) never comes first;
//   race      emitted once, around the timeout (either may win, but only one);
//   never     not emitted: the timeout releases the job;
//   rollback  emitted inside a transaction that rolls back: the timeout releases the job.
// The enqueue and each emit are recorded in the same transaction as the write itself (chaos.wait_jobs,
// chaos.wait_emits, whose key allows one emit per event), so a commit whose outcome a fault hid is
// resolved by reading them, never by writing twice. The worker side is wait-worker.ts, the checker
// wait-check.ts.
import pg from 'pg';
import { Arbiter } from '../src/index.js';
import { CHAOS, SCHEMA, rng, sleep } from './common.js';
import { commitOnce, inTransaction } from './tx.js';

export const WAIT_QUEUE = 'chaos_wait';
/** Jobs of the wait queue may spend attempts on faults before reaching their wait: a generous budget. */
export const WAIT_MAX_ATTEMPTS = 10;

export type WaitKind = 'emit' | 'race' | 'never' | 'rollback';
export interface PlannedWait {
  w: number;
  kind: WaitKind;
  timeoutMs: number;
  /** When the event is emitted (or the rolled-back emit tried), in ms after the enqueue committed. */
  emitAtMs: number | null;
  /** Carried by the emitted payload, so the job's observation names the one emit. */
  token: number;
}
/** The wait job's payload: its event number and timeout. */
export interface WaitPayload {
  w: number;
  t: number;
}

export const WAIT_DDL = `
CREATE TABLE ${CHAOS}.wait_jobs (w int PRIMARY KEY, job_id bigint NOT NULL, kind text NOT NULL,
  token int NOT NULL);
CREATE TABLE ${CHAOS}.wait_emits (w int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE ${CHAOS}.wait_seen (job_id bigint NOT NULL, attempt int NOT NULL, seen text NOT NULL,
  payload jsonb, worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
`;

export const waitEvent = (w: number): string => `chaos:wait:${w}`;

const KINDS: WaitKind[] = ['emit', 'race', 'never', 'rollback', 'emit'];

/** One wait job per 100 planned jobs (at least 5): 40% emitted early, 20% each of the others. */
export function buildWaitPlan(jobs: number, seed: number): PlannedWait[] {
  const r = rng(seed);
  const out: PlannedWait[] = [];
  for (let w = 0; w < Math.max(5, Math.round(jobs / 100)); w++) {
    const kind = KINDS[w % KINDS.length]!;
    const short = 1_000 + Math.floor(r() * 7_000);
    const token = Math.floor(r() * 1e9);
    if (kind === 'emit') out.push({ w, kind, timeoutMs: 600_000, emitAtMs: Math.floor(r() * 8_000), token });
    else if (kind === 'race') {
      const timeoutMs = 2_000 + Math.floor(r() * 4_000);
      out.push({
        w,
        kind,
        timeoutMs,
        emitAtMs: Math.max(0, timeoutMs + Math.floor((r() * 2 - 1) * 1_500)),
        token,
      });
    } else if (kind === 'never') out.push({ w, kind, timeoutMs: short, emitAtMs: null, token });
    else out.push({ w, kind, timeoutMs: short, emitAtMs: Math.floor(r() * short), token });
  }
  return out;
}

export interface WaitLoadStats {
  jobs: number;
  emits: number;
  rollbacks: number;
  retries: number;
}

/** Enqueues the wait plan at an even pace over `spreadMs` and emits each event at its moment. */
export class WaitLoad {
  readonly stats: WaitLoadStats = { jobs: 0, emits: 0, rollbacks: 0, retries: 0 };
  /** Emits scheduled or in progress. */
  pending = 0;
  private readonly emits: Promise<void>[] = [];
  private readonly arbiter: Arbiter;
  private readonly pool: pg.Pool;

  constructor(
    url: string,
    private readonly log: (line: string) => void,
  ) {
    this.arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 4 });
    this.pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
  }

  private retried = (what: string) => (err: unknown) => {
    if (this.stats.retries++ % 10 === 0) this.log(`wait load: ${what} failed, retrying: ${String(err)}`);
  };

  async run(plan: PlannedWait[], spreadMs: number): Promise<void> {
    const t0 = Date.now();
    for (let i = 0; i < plan.length; i++) {
      await sleep(Math.max(0, t0 + (i / plan.length) * spreadMs - Date.now()));
      const u = plan[i]!;
      const q = this.arbiter.queue<WaitPayload>(WAIT_QUEUE);
      await commitOnce(
        () =>
          inTransaction(this.pool, async (client) => {
            const job = await q.enqueue(
              { w: u.w, t: u.timeoutMs },
              { maxAttempts: WAIT_MAX_ATTEMPTS, tx: client },
            );
            await client.query(
              `INSERT INTO ${CHAOS}.wait_jobs (w, job_id, kind, token) VALUES ($1, $2, $3, $4)`,
              [u.w, job!.id, u.kind, u.token],
            );
          }),
        () => this.exists('wait_jobs', u.w),
        this.retried('enqueue'),
      );
      this.stats.jobs++;
      if (u.emitAtMs !== null) this.schedule(u, u.emitAtMs);
    }
  }

  private schedule(u: PlannedWait, atMs: number): void {
    this.pending++;
    const p = (async () => {
      await sleep(atMs);
      const emit = (client: pg.PoolClient) =>
        this.arbiter.emit(waitEvent(u.w), { w: u.w, token: u.token }, { tx: client });
      if (u.kind === 'rollback') {
        // A failure here is as good as the rollback: nothing committed either way.
        await inTransaction(this.pool, async (client) => {
          await emit(client);
          throw new RolledBack();
        }).catch(() => undefined);
        this.stats.rollbacks++;
        return;
      }
      await commitOnce(
        () =>
          inTransaction(this.pool, async (client) => {
            await client.query(`INSERT INTO ${CHAOS}.wait_emits (w) VALUES ($1)`, [u.w]);
            await emit(client);
          }),
        () => this.exists('wait_emits', u.w),
        this.retried('emit'),
      );
      this.stats.emits++;
    })().finally(() => this.pending--);
    this.emits.push(p);
  }

  private async exists(table: 'wait_jobs' | 'wait_emits', w: number): Promise<true | null> {
    const { rows } = await this.pool.query(`SELECT 1 FROM ${CHAOS}.${table} WHERE w = $1`, [w]);
    return rows.length > 0 ? true : null;
  }

  async close(): Promise<void> {
    await Promise.all(this.emits);
    await this.arbiter.close();
    await this.pool.end();
  }
}

class RolledBack extends Error {}

/** Wait-queue jobs not finished (parked ones included). */
export async function waitsLeft(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${SCHEMA}"."${WAIT_QUEUE}"`,
  );
  return rows[0]!.n;
}
