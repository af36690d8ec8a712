// Reads the recorded history and Arbiter's final state into memory for the checker.
import type pg from 'pg';
import { CHAOS, QUEUES, QUEUE_LIST, SCHEMA } from './common.js';

export interface JobRec {
  /** `queue:id` (job ids are per queue). */
  key: string;
  id: string;
  queue: string;
  kind: 'plain' | 'group' | 'child' | 'final';
  group: string | null;
  tree: number | null;
  fail: number;
}
export interface Exec {
  jobId: string;
  attempt: number;
  /** The job's attempt budget when this attempt was claimed (an attempt given back unrun raises it). */
  maxAttempts: number;
  worker: string;
  start: number;
  end: number | null;
  outcome: string | null;
  childrenPending: number | null;
  childrenSeen: number | null;
}
export interface Terminal {
  attempts: number;
  at: number;
  /** Dead letters only: the budget and the error they were moved with (for the checker's notes). */
  maxAttempts?: number;
  error?: string | null;
}
export interface History {
  jobs: Map<string, JobRec>;
  execs: Map<string, Exec[]>;
  remaining: Set<string>;
  dlq: Map<string, Terminal[]>;
  hist: Map<string, Terminal[]>;
  effects: Map<string, Terminal[]>;
  acks: Map<string, { attempts: number; at: number; kind: string; worker: string }[]>;
  /** Terminal rows (dead letters, kept history) whose attempts exceed their budget, described. */
  attemptsOver: string[];
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

function push<V>(m: Map<string, V[]>, k: string, v: V) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export async function loadHistory(db: pg.Pool): Promise<History> {
  const h: History = {
    jobs: new Map(),
    execs: new Map(),
    remaining: new Set(),
    dlq: new Map(),
    hist: new Map(),
    effects: new Map(),
    acks: new Map(),
    attemptsOver: [],
  };
  const jobs = await db.query(
    `SELECT job_id::text AS id, queue, kind, group_key, tree, fail FROM ${CHAOS}.enqueued`,
  );
  for (const r of jobs.rows)
    h.jobs.set(`${r.queue}:${r.id}`, {
      key: `${r.queue}:${r.id}`,
      id: r.id,
      queue: r.queue,
      kind: r.kind,
      group: r.group_key,
      tree: r.tree,
      fail: r.fail,
    });
  const execs = await db.query(
    `SELECT queue, job_id::text AS id, attempt, max_attempts, worker, started_at, ended_at, outcome, children_pending, children_seen
       FROM ${CHAOS}.exec ORDER BY job_id, attempt, started_at`,
  );
  for (const r of execs.rows)
    push(h.execs, `${r.queue}:${r.id}`, {
      jobId: r.id,
      attempt: r.attempt,
      maxAttempts: r.max_attempts,
      worker: r.worker,
      start: ms(r.started_at)!,
      end: ms(r.ended_at),
      outcome: r.outcome,
      childrenPending: r.children_pending,
      childrenSeen: r.children_seen,
    });
  for (const q of QUEUE_LIST) {
    const rem = await db.query(`SELECT id::text AS id, attempts, max_attempts FROM "${SCHEMA}"."${q}"`);
    for (const r of rem.rows) h.remaining.add(`${q}:${r.id}`);
    const dlq = await db.query(
      `SELECT job_id::text AS id, attempts, max_attempts, failed_at, last_error FROM "${SCHEMA}"."${q}_dlq"`,
    );
    for (const r of dlq.rows) {
      push(h.dlq, `${q}:${r.id}`, {
        attempts: r.attempts,
        at: ms(r.failed_at)!,
        maxAttempts: r.max_attempts,
        error: r.last_error,
      });
      if (r.attempts > r.max_attempts)
        h.attemptsOver.push(`dead letter ${q}:${r.id} attempts=${r.attempts}/${r.max_attempts}`);
    }
    const hist = await db.query(
      `SELECT id::text AS id, attempts, max_attempts, finished_at FROM "${SCHEMA}"."${q}_history"`,
    );
    for (const r of hist.rows) {
      push(h.hist, `${q}:${r.id}`, { attempts: r.attempts, at: ms(r.finished_at)! });
      if (r.attempts > r.max_attempts)
        h.attemptsOver.push(`history row ${q}:${r.id} attempts=${r.attempts}/${r.max_attempts}`);
    }
  }
  const eff = await db.query(`SELECT job_id::text AS id, attempt, at FROM ${CHAOS}.effects`);
  for (const r of eff.rows) push(h.effects, `${QUEUES.tx}:${r.id}`, { attempts: r.attempt, at: ms(r.at)! });
  const acks = await db.query(
    `SELECT queue, job_id::text AS id, attempt, kind, worker, at FROM ${CHAOS}.acks`,
  );
  for (const r of acks.rows)
    push(h.acks, `${r.queue}:${r.id}`, {
      attempts: r.attempt,
      at: ms(r.at)!,
      kind: r.kind,
      worker: r.worker,
    });
  return h;
}
