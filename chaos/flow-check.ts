// The checker for flows and awaited results (flows.ts): reads what was recorded and Arbiter's own records
// (_tracked_jobs: each tracked job's final state, result and finished_at, written by the statement that
// removed the job) and turns them into the figures of the summary line.
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { dlqReasons } from './check.js';
import { CHAOS, SCHEMA } from './common.js';
import type { Fault } from './faults.js';
import { FLOW_QUEUE, type Delivery } from './flows.js';
import type { Exec, Terminal } from './load.js';

export interface NodeRec {
  flow: number;
  node: string;
  id: string;
  deps: string[];
  policy: string;
  fail: number;
  k: number;
}
export interface Tracked {
  state: 'unfinished' | 'succeeded' | 'failed' | 'cancelled';
  result: unknown;
  finishedAt: number | null;
}
export interface FlowHistory {
  nodes: NodeRec[];
  awaited: { id: string; k: number; fail: number }[];
  /** Flow-queue executions by job id. */
  execs: Map<string, Exec[]>;
  tracked: Map<string, Tracked>;
  /** Jobs still in the flow queue: id → suspended (a node cancelled by a failure stays parked). */
  queued: Map<string, boolean>;
  dlq: Map<string, Terminal>;
  delivered: Map<string, Delivery>;
}

export interface FlowFigures {
  flows: number;
  flow_nodes: number;
  /** Node executions that started before a dependency had succeeded (or, under 'continue', finished). */
  flow_early: number;
  /** Nodes not settled after the drain: unfinished, or still claimable in the queue. */
  flow_stuck: number;
  /** Nodes whose final state is not what their dependencies' states and the failure policy require. */
  flow_bad: number;
  /** Nodes cancelled by a failed dependency ('cancel'), and nodes run after one failed ('continue'). */
  flow_cancelled: number;
  flow_continued: number;
  /** Nodes meant to succeed that were dead-lettered with every attempt explained by faults (accepted). */
  flow_dlq_by_faults: number;
  results: number;
  results_missing: number;
  /** Delivered, but not the job's recorded outcome or not the handler's value. */
  results_wrong: number;
  results_dlq_by_faults: number;
  details: string[];
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

export async function loadFlowHistory(db: pg.Pool, delivered: Map<string, Delivery>): Promise<FlowHistory> {
  const h: FlowHistory = {
    nodes: [],
    awaited: [],
    execs: new Map(),
    tracked: new Map(),
    queued: new Map(),
    dlq: new Map(),
    delivered,
  };
  const nodes = await db.query(
    `SELECT flow, node, job_id::text AS id, deps, policy, fail, k FROM ${CHAOS}.flow_nodes ORDER BY flow, node`,
  );
  h.nodes = nodes.rows.map((r) => ({ ...r }));
  const aw = await db.query(`SELECT job_id::text AS id, k, fail FROM ${CHAOS}.awaited ORDER BY k`);
  h.awaited = aw.rows.map((r) => ({ ...r }));
  const ex = await db.query(
    `SELECT job_id::text AS id, attempt, max_attempts, worker, started_at, ended_at, outcome, children_pending,
            children_seen FROM ${CHAOS}.exec WHERE queue = $1 ORDER BY job_id, attempt, started_at`,
    [FLOW_QUEUE],
  );
  for (const r of ex.rows) {
    const e: Exec = {
      jobId: r.id,
      attempt: r.attempt,
      maxAttempts: r.max_attempts,
      worker: r.worker,
      start: ms(r.started_at)!,
      end: ms(r.ended_at),
      outcome: r.outcome,
      childrenPending: r.children_pending,
      childrenSeen: r.children_seen,
    };
    h.execs.set(r.id, [...(h.execs.get(r.id) ?? []), e]);
  }
  const tr = await db.query(
    `SELECT job_id::text AS id, state, result, finished_at FROM "${SCHEMA}"._tracked_jobs WHERE queue = $1`,
    [FLOW_QUEUE],
  );
  for (const r of tr.rows)
    h.tracked.set(r.id, { state: r.state, result: r.result, finishedAt: ms(r.finished_at) });
  const q = await db.query(`SELECT id::text AS id, suspended FROM "${SCHEMA}"."${FLOW_QUEUE}"`);
  for (const r of q.rows) h.queued.set(r.id, r.suspended);
  const dlq = await db.query(
    `SELECT job_id::text AS id, attempts, max_attempts, failed_at, last_error FROM "${SCHEMA}"."${FLOW_QUEUE}_dlq"`,
  );
  for (const r of dlq.rows)
    h.dlq.set(r.id, {
      attempts: r.attempts,
      at: ms(r.failed_at)!,
      maxAttempts: r.max_attempts,
      error: r.last_error,
    });
  return h;
}

/** A job meant to succeed that ended failed: were all its attempts explained (its own failure, faults)? */
function failedByFaults(h: FlowHistory, id: string, fail: number, faults: Fault[]): boolean {
  const d = h.dlq.get(id);
  if (!d) return false;
  const why = dlqReasons(fail, h.execs.get(id) ?? [], d, faults);
  return why.every((r) => r !== null) && why.some((r) => r !== 'handler-failure');
}

export function checkFlows(h: FlowHistory, faults: Fault[]): FlowFigures {
  const fig: FlowFigures = {
    flows: new Set(h.nodes.map((n) => n.flow)).size,
    flow_nodes: h.nodes.length,
    flow_early: 0,
    flow_stuck: 0,
    flow_bad: 0,
    flow_cancelled: 0,
    flow_continued: 0,
    flow_dlq_by_faults: 0,
    results: h.awaited.length,
    results_missing: 0,
    results_wrong: 0,
    results_dlq_by_faults: 0,
    details: [],
  };
  const note = (s: string) => fig.details.length < 40 && fig.details.push(s);
  const byFlow = new Map<number, Map<string, NodeRec>>();
  for (const n of h.nodes) byFlow.set(n.flow, (byFlow.get(n.flow) ?? new Map()).set(n.node, n));
  for (const n of h.nodes) {
    const nodes = byFlow.get(n.flow)!;
    const deps = n.deps.map((d) => nodes.get(d)!);
    const t = h.tracked.get(n.id);
    const execs = h.execs.get(n.id) ?? [];
    const tag = `flow ${n.flow} node ${n.node} (job ${n.id}, ${n.policy})`;
    // Started early: every execution needs every dependency finished before it, and succeeded unless
    // the node runs under 'continue'. Success is the ack's transaction (finished_at, set by the statement
    // that removed the job, which also resumed this node) and an 'ok' run of the dependency before it.
    for (const e of execs) {
      const why: string[] = [];
      if ((e.childrenPending ?? 0) > 0) why.push(`${e.childrenPending} dependencies unfinished at run time`);
      if (n.policy === 'cancel' && e.childrenSeen !== null && e.childrenSeen < deps.length)
        why.push(`saw ${e.childrenSeen}/${deps.length} dependencies succeeded`);
      for (const d of deps) {
        const dt = h.tracked.get(d.id);
        const ok = (h.execs.get(d.id) ?? []).some(
          (x) => x.outcome === 'ok' && x.end !== null && x.end <= e.start,
        );
        if (!dt || dt.state === 'unfinished' || dt.finishedAt === null || dt.finishedAt > e.start)
          why.push(`dependency ${d.node} finished at ${dt?.finishedAt ?? 'never'}`);
        else if (dt.state === 'succeeded' && !ok) why.push(`dependency ${d.node} had no ok run before`);
        else if (dt.state !== 'succeeded' && n.policy === 'cancel')
          why.push(`dependency ${d.node} ${dt.state}`);
      }
      if (why.length > 0) {
        fig.flow_early++;
        note(`${tag} attempt ${e.attempt} started at ${e.start} early: ${why.join('; ')}`);
      }
    }
    // Settled after the drain: a final state, and nothing claimable left in the queue (a node cancelled
    // by a failed dependency stays parked there, suspended, so the flow can be resumed).
    if (!t || t.state === 'unfinished' || h.queued.get(n.id) === false) {
      fig.flow_stuck++;
      note(`${tag} not settled: ${t?.state ?? 'no record'}, in queue: ${h.queued.has(n.id)}`);
      continue;
    }
    if (h.queued.has(n.id) && t.state !== 'cancelled') {
      fig.flow_stuck++;
      note(`${tag} ${t.state} but still in its queue`);
    }
    const allOk = deps.every((d) => h.tracked.get(d.id)?.state === 'succeeded');
    let expected: Tracked['state'];
    if (allOk || n.policy === 'continue') expected = n.fail === 2 ? 'failed' : 'succeeded';
    else expected = 'cancelled';
    if (!allOk && t.state === expected) {
      if (expected === 'cancelled') fig.flow_cancelled++;
      else fig.flow_continued++;
    }
    if (t.state === expected) {
      if (expected === 'cancelled' && execs.length > 0) {
        fig.flow_bad++;
        note(`${tag} cancelled by its dependencies, yet ran: ${JSON.stringify(execs)}`);
      }
      if (expected === 'succeeded' && !isDeepStrictEqual(t.result, { k: n.k })) {
        fig.flow_bad++;
        note(`${tag} succeeded with ${JSON.stringify(t.result)}, not {"k":${n.k}}`);
      }
    } else if (expected === 'succeeded' && t.state === 'failed' && failedByFaults(h, n.id, n.fail, faults)) {
      fig.flow_dlq_by_faults++;
    } else {
      fig.flow_bad++;
      note(
        `${tag} ended ${t.state}, expected ${expected} (dependencies ${deps.map((d) => `${d.node}=${h.tracked.get(d.id)?.state}`).join(',')}): ${JSON.stringify(execs)}`,
      );
    }
  }
  for (const a of h.awaited) {
    const got = h.delivered.get(a.id);
    const t = h.tracked.get(a.id);
    const tag = `awaited job ${a.id} (k=${a.k}, f=${a.fail})`;
    if (!got) {
      fig.results_missing++;
      note(`${tag} never delivered; recorded ${JSON.stringify(t)}`);
      continue;
    }
    if (got.state === 'succeeded') {
      // Exactly the job's result: the handler's value, and what Arbiter recorded.
      if (
        a.fail === 2 ||
        t?.state !== 'succeeded' ||
        !isDeepStrictEqual(got.value, { k: a.k }) ||
        !isDeepStrictEqual(t.result, got.value)
      ) {
        fig.results_wrong++;
        note(`${tag} delivered ${JSON.stringify(got)}, recorded ${JSON.stringify(t)}`);
      }
    } else if (got.state !== 'failed' || t?.state !== 'failed') {
      fig.results_wrong++;
      note(`${tag} delivered ${JSON.stringify(got)}, recorded ${JSON.stringify(t)}`);
    } else if (a.fail !== 2) {
      if (failedByFaults(h, a.id, a.fail, faults)) fig.results_dlq_by_faults++;
      else {
        fig.results_wrong++;
        note(
          `${tag} delivered a failure it was not meant to have: ${JSON.stringify(got)} ${JSON.stringify(h.execs.get(a.id))}`,
        );
      }
    }
  }
  return fig;
}

/** The pass criterion's part for flows and results (`planned`: what the flow plan enqueues). */
export function flowsPass(fig: FlowFigures, planned: { flows: number; results: number }): boolean {
  return (
    fig.flows === planned.flows &&
    fig.flow_nodes === planned.flows * 4 &&
    fig.results === planned.results &&
    fig.flow_early === 0 &&
    fig.flow_stuck === 0 &&
    fig.flow_bad === 0 &&
    fig.results_missing === 0 &&
    fig.results_wrong === 0
  );
}

export function flowSummary(fig: FlowFigures): string[] {
  return [
    `flows=${fig.flows}`,
    `flow_early=${fig.flow_early}`,
    `flow_stuck=${fig.flow_stuck}`,
    `flow_bad=${fig.flow_bad}`,
    `flow_cancelled=${fig.flow_cancelled}`,
    `flow_continued=${fig.flow_continued}`,
    `flow_dlq_by_faults=${fig.flow_dlq_by_faults}`,
    `results=${fig.results}`,
    `results_missing=${fig.results_missing}`,
    `results_wrong=${fig.results_wrong}`,
  ];
}
