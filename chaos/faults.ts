// The fault schedule: SIGKILL a random worker every 3 ± 1 s (replacement after 0.5 s), one PostgreSQL
// crash-restart, one LISTEN-connection kill, one kill of a connection in the middle of an ack batch, one
// SIGSTOP of a worker for 2 × lease. Every fault is recorded with its wall-clock time (same host clock
// as the database's clock_timestamp(), the server being local).
import pg from 'pg';
import { LEASE_MS, sleep } from './common.js';
import type { ChaosDatabase } from './pg-server.js';
import type { WorkerPool } from './workers.js';

/** `crash`: a worker died without our doing (recorded so its in-flight work is accounted for). */
export type FaultKind = 'kill' | 'pg-crash' | 'listen-kill' | 'ack-kill' | 'pause' | 'crash';

export interface Fault {
  kind: FaultKind;
  at: number;
  /** pg-crash: when the server accepted connections again; pause: when SIGCONT was sent. */
  until?: number;
  workers: string[];
  detail: string;
}

export interface FaultPlan {
  windowMs: number;
  random: () => number;
  restartPg: boolean;
}

export class FaultInjector {
  readonly faults: Fault[] = [];
  private pgDown = false;
  private pausedName: string | undefined;

  constructor(
    private readonly db: ChaosDatabase,
    private readonly workers: WorkerPool,
    private readonly log: (line: string) => void,
  ) {
    workers.onUnexpectedExit = (name, at) =>
      this.faults.push({ kind: 'crash', at, workers: [name], detail: 'unexpected worker exit' });
  }

  /** Runs every fault of the plan; resolves when the last one is over. */
  async run(plan: FaultPlan): Promise<void> {
    const t0 = Date.now();
    const at = (f: number) => sleep(Math.max(0, t0 + f * plan.windowMs - Date.now()));
    const once = [
      at(0.2).then(() => this.listenKill()),
      plan.restartPg ? at(0.4).then(() => this.pgCrash()) : Promise.resolve(),
      at(0.6).then(() => this.ackKill()),
      at(0.7).then(() => this.pause()),
    ];
    while (Date.now() - t0 < plan.windowMs) {
      await sleep(2_000 + plan.random() * 2_000);
      if (Date.now() - t0 >= plan.windowMs) break;
      // No kill while PostgreSQL is down: a replacement could not start, and its death would be ours.
      if (this.pgDown) continue;
      const candidates = this.workers.live.filter((w) => w.ready && w.name !== this.pausedName);
      const victim = candidates[Math.floor(plan.random() * candidates.length)];
      if (!victim) continue;
      this.workers.kill(victim);
      this.faults.push({ kind: 'kill', at: Date.now(), workers: [victim.name], detail: 'SIGKILL' });
      setTimeout(() => void this.spawnWhenUp(), 500);
    }
    await Promise.all(once);
  }

  /** A replacement due while PostgreSQL is down waits for it: a worker cannot start without a database. */
  private async spawnWhenUp(): Promise<void> {
    while (this.pgDown) await sleep(100);
    this.workers.spawn();
  }

  private async adminQuery<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.db.url, connectionTimeoutMillis: 5_000 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private async pgCrash(): Promise<void> {
    this.pgDown = true;
    try {
      const at = Date.now();
      await this.db.crash();
      this.log('PostgreSQL crashed (immediate shutdown)');
      await sleep(3_000);
      await this.db.start();
      const until = Date.now();
      this.log(`PostgreSQL accepting connections again after ${((until - at) / 1000).toFixed(1)} s`);
      this.faults.push({
        kind: 'pg-crash',
        at,
        until,
        workers: this.workers.live.map((w) => w.name),
        detail: '',
      });
    } finally {
      this.pgDown = false;
    }
  }

  private async listenKill(): Promise<void> {
    const rows = await this.adminQuery<{ pid: number; app: string }>(
      `SELECT pid, application_name AS app, pg_terminate_backend(pid) AS t FROM pg_stat_activity
        WHERE query LIKE 'LISTEN%' AND application_name LIKE 'w%' AND pid <> pg_backend_pid()`,
    ).catch((err: unknown) => (this.log(`listen-kill failed: ${String(err)}`), []));
    this.faults.push({
      kind: 'listen-kill',
      at: Date.now(),
      workers: rows.map((r) => r.app),
      detail: `${rows.length} LISTEN backends terminated`,
    });
  }

  /** Polls pg_stat_activity for a worker backend running an ack DELETE and terminates it. */
  private async ackKill(): Promise<void> {
    const c = new pg.Client({ connectionString: this.db.url, connectionTimeoutMillis: 5_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const { rows } = await c.query<{ pid: number; app: string; q: string; t: boolean }>(
          `SELECT pid, application_name AS app, left(query, 80) AS q, pg_terminate_backend(pid) AS t
             FROM pg_stat_activity
            WHERE state = 'active' AND application_name ~ '^w[0-9]+$' AND query ILIKE '%DELETE%'
              AND pid <> pg_backend_pid()
            LIMIT 1`,
        );
        const hit = rows[0];
        if (hit?.t) {
          this.faults.push({
            kind: 'ack-kill',
            at: Date.now(),
            workers: [hit.app],
            detail: `backend ${hit.pid}: ${hit.q.replace(/\s+/g, ' ')}`,
          });
          return;
        }
        await sleep(2);
      }
      this.log('ack-kill: no active ack DELETE caught within 20 s');
    } catch (err) {
      this.log(`ack-kill failed: ${String(err)}`);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private async pause(): Promise<void> {
    const victim = this.workers.live.find((w) => w.ready);
    if (!victim) return;
    this.pausedName = victim.name;
    victim.paused = true;
    const at = Date.now();
    victim.child.kill('SIGSTOP');
    await sleep(2 * LEASE_MS);
    victim.child.kill('SIGCONT');
    victim.paused = false;
    this.pausedName = undefined;
    this.faults.push({
      kind: 'pause',
      at,
      until: Date.now(),
      workers: [victim.name],
      detail: 'SIGSTOP 2 x lease',
    });
  }
}
