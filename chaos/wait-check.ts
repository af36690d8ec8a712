// The checker for ctx.waitFor in the chaos run (waits.ts): each wait job is released exactly once, by
// its event when one was committed before its timeout, else by the timeout, and every run after the
// release sees that same outcome. Reads the independent records (wait_jobs, wait_emits, wait_seen) and,
// to cross-check, Arbiter's own (the job's `$wait:1` step, the event's `released` count).
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { CHAOS, SCHEMA } from './common.js';
import { WAIT_QUEUE, waitEvent, type WaitKind } from './waits.js';

export interface WaitUnit {
  w: number;
  jobId: string;
  kind: WaitKind;
  token: number;
  /** An emit of its event committed. */
  emitted: boolean;
}
export interface WaitSeen {
  attempt: number;
  seen: 'event' | 'timeout';
  payload: unknown;
}
export interface WaitHistory {
  units: WaitUnit[];
  /** What each job's runs saw after their wait, by job id. */
  seen: Map<string, WaitSeen[]>;
  /** Arbiter's record of each job's release (its `$wait:1` step), by job id. */
  steps: Map<string, { kind: string; result: unknown }>;
  /** How many waiters each event released, by w (Arbiter's `_events.released`). */
  released: Map<number, number>;
  /** Jobs still in the wait queue, and jobs in its dead-letter table. */
  queued: Set<string>;
  dead: Set<string>;
}

export interface WaitFigures {
  waits: number;
  /** Released by their event, and by their timeout. */
  wait_events: number;
  wait_timeouts: number;
  /** Never released: no run got past the wait, or the job did not finish. */
  wait_missing: number;
  /** Released more than once: runs that saw different outcomes, or an event counting two releases. */
  wait_double: number;
  /** Released the wrong way: by an event never committed, by a timeout an early emit should have beaten,
   * with a payload not the one emitted, or not as Arbiter recorded it. */
  wait_wrong: number;
  details: string[];
}

export async function loadWaitHistory(db: pg.Pool): Promise<WaitHistory> {
  const h: WaitHistory = {
    units: [],
    seen: new Map(),
    steps: new Map(),
    released: new Map(),
    queued: new Set(),
    dead: new Set(),
  };
  const units = await db.query(
    `SELECT j.w, j.job_id::text AS id, j.kind, j.token, (e.w IS NOT NULL) AS emitted
       FROM ${CHAOS}.wait_jobs j LEFT JOIN ${CHAOS}.wait_emits e ON e.w = j.w ORDER BY j.w`,
  );
  h.units = units.rows.map((r) => ({
    w: r.w,
    jobId: r.id,
    kind: r.kind,
    token: r.token,
    emitted: r.emitted,
  }));
  const seen = await db.query(
    `SELECT job_id::text AS id, attempt, seen, payload FROM ${CHAOS}.wait_seen ORDER BY job_id, at`,
  );
  for (const r of seen.rows)
    h.seen.set(r.id, [...(h.seen.get(r.id) ?? []), { attempt: r.attempt, seen: r.seen, payload: r.payload }]);
  const steps = await db.query(
    `SELECT job_id::text AS id, kind, result FROM "${SCHEMA}"._steps WHERE queue = $1 AND name = '$wait:1'`,
    [WAIT_QUEUE],
  );
  for (const r of steps.rows) h.steps.set(r.id, { kind: r.kind, result: r.result });
  const ev = await db.query(
    `SELECT j.w, e.released FROM ${CHAOS}.wait_jobs j JOIN "${SCHEMA}"._events e ON e.name = 'chaos:wait:' || j.w`,
  );
  for (const r of ev.rows) h.released.set(r.w, r.released);
  const q = await db.query(`SELECT id::text AS id FROM "${SCHEMA}"."${WAIT_QUEUE}"`);
  for (const r of q.rows) h.queued.add(r.id);
  const dlq = await db.query(`SELECT job_id::text AS id FROM "${SCHEMA}"."${WAIT_QUEUE}_dlq"`);
  for (const r of dlq.rows) h.dead.add(r.id);
  return h;
}

export function checkWaits(h: WaitHistory): WaitFigures {
  const fig: WaitFigures = {
    waits: h.units.length,
    wait_events: 0,
    wait_timeouts: 0,
    wait_missing: 0,
    wait_double: 0,
    wait_wrong: 0,
    details: [],
  };
  const note = (s: string) => fig.details.length < 40 && fig.details.push(s);
  for (const u of h.units) {
    const tag = `wait ${u.w} (${u.kind}, job ${u.jobId}, event ${waitEvent(u.w)})`;
    const seen = h.seen.get(u.jobId) ?? [];
    const released = h.released.get(u.w) ?? 0;
    if (seen.length === 0 || h.queued.has(u.jobId) || h.dead.has(u.jobId)) {
      fig.wait_missing++;
      const where = h.queued.has(u.jobId) ? 'still queued' : h.dead.has(u.jobId) ? 'dead-lettered' : 'gone';
      note(`${tag} not released: ${seen.length} runs past the wait, ${where}`);
      continue;
    }
    const first = seen[0]!;
    const differing = seen.find((s) => s.seen !== first.seen || !isDeepStrictEqual(s.payload, first.payload));
    if (differing || released > 1) {
      fig.wait_double++;
      note(`${tag} released twice: runs saw ${JSON.stringify(seen)}, the event released ${released}`);
      continue;
    }
    const why: string[] = [];
    const step = h.steps.get(u.jobId);
    if (first.seen === 'event') {
      fig.wait_events++;
      if (!u.emitted) why.push(`saw an event, none committed (${u.kind})`);
      if (!isDeepStrictEqual(first.payload, { w: u.w, token: u.token }))
        why.push(`saw ${JSON.stringify(first.payload)}, emitted {"w":${u.w},"token":${u.token}}`);
      if (released !== 1) why.push(`the event counts ${released} releases`);
      if (step?.kind !== 'event' || !isDeepStrictEqual(step.result, first.payload))
        why.push(`Arbiter recorded ${JSON.stringify(step)}`);
    } else {
      fig.wait_timeouts++;
      if (u.kind === 'emit') why.push('timed out, though its event was emitted long before the timeout');
      if (released !== 0) why.push(`the event counts ${released} releases`);
      if (step?.kind !== 'timeout') why.push(`Arbiter recorded ${JSON.stringify(step)}`);
    }
    if (why.length > 0) {
      fig.wait_wrong++;
      note(`${tag}: ${why.join('; ')}`);
    }
  }
  return fig;
}

export function waitsPass(fig: WaitFigures, planned: number): boolean {
  return fig.waits === planned && fig.wait_missing === 0 && fig.wait_double === 0 && fig.wait_wrong === 0;
}

export function waitSummary(fig: WaitFigures): string[] {
  return [
    `waits=${fig.waits}`,
    `wait_events=${fig.wait_events}`,
    `wait_timeouts=${fig.wait_timeouts}`,
    `wait_missing=${fig.wait_missing}`,
    `wait_double=${fig.wait_double}`,
    `wait_wrong=${fig.wait_wrong}`,
  ];
}
