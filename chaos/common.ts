// Shared constants and small helpers of the chaos suite (see RELIABILITY.md R1).

/** Schemas owned by the suite (dropped and recreated at the start of a run). */
export const SCHEMA = 'arbiter_chaos';
export const CHAOS = 'chaos';
/** One queue per completion-recording mode, so every mode is exercised under the same faults. */
export const QUEUES = {
  /** Handler writes its effect row and acks in ONE transaction (queue.using(client).ack). */
  tx: 'chaos_tx',
  /**
   * keepProcessed: the accepted completion is recorded by Arbiter itself in <queue>_history. Its jobs
   * run STEPS durable steps (ctx.step), each step's side effect recorded in chaos.step_effects.
   */
  hist: 'chaos_hist',
  /** Default path (bulk DELETE ack); accepted completions come from worker events (best effort). */
  plain: 'chaos_plain',
} as const;
export const QUEUE_LIST = [QUEUES.tx, QUEUES.hist, QUEUES.plain];
export const MAX_ATTEMPTS = 3;
/** The durable steps each job of the history queue runs. */
export const STEPS = ['reserve', 'charge', 'notify'] as const;
export const LEASE_MS = 5_000;

/** f: 0 = succeeds, 1 = fails on attempt 1 only, 2 = always fails (dead-lettered at maxAttempts). */
export interface ChaosPayload {
  k: number;
  f: 0 | 1 | 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG so a run is reproducible from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic number in [0, 1) from integers (handler durations). */
export function hash01(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) {
    h ^= x;
    h = Math.imul(h, 16777619) >>> 0;
    h ^= h >>> 13;
  }
  return (h >>> 0) / 4294967296;
}

export function withAppName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

export const CHAOS_DDL = `
CREATE SCHEMA IF NOT EXISTS ${CHAOS};
CREATE TABLE ${CHAOS}.enqueued (job_id bigint NOT NULL, queue text NOT NULL, kind text NOT NULL,
  group_key text, tree int, fail int NOT NULL, k int NOT NULL, batch int NOT NULL);
CREATE TABLE ${CHAOS}.batches (batch int PRIMARY KEY);
CREATE TABLE ${CHAOS}.exec (id bigserial PRIMARY KEY, job_id bigint NOT NULL, queue text NOT NULL,
  attempt int NOT NULL, max_attempts int NOT NULL, worker text NOT NULL, group_key text,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(), ended_at timestamptz, outcome text,
  children_pending int, children_seen int);
CREATE TABLE ${CHAOS}.acks (job_id bigint NOT NULL, queue text NOT NULL, attempt int NOT NULL,
  worker text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE ${CHAOS}.effects (job_id bigint NOT NULL, attempt int NOT NULL, worker text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE ${CHAOS}.step_effects (job_id bigint NOT NULL, step text NOT NULL, attempt int NOT NULL,
  worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
`;
