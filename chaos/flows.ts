// Flows and awaited results in the chaos run: diamond flows (a → b, c → d) and jobs enqueued with
// `{ result: true }` whose results this process awaits, all on one queue of their own, enqueued at an even
// pace over the fault window. What was committed is recorded in the same transaction as the enqueue
// (chaos.flow_nodes, chaos.awaited), so a crash that leaves a commit's outcome unknown is resolved by
// reading those tables, never by enqueueing twice. The checker is flow-check.ts.
import pg from 'pg';
import { Arbiter, JobFailedError } from '../src/index.js';
import type { DependencyFailurePolicy } from '../src/core/tracking.js';
import { CHAOS, MAX_ATTEMPTS, SCHEMA, rng, sleep } from './common.js';
import { commitOnce, inTransaction } from './tx.js';

export const FLOW_QUEUE = 'chaos_flow';

/** Payload of the flow queue's jobs; `n`: the node name (flow nodes only). */
export interface FlowPayload {
  k: number;
  f: 0 | 1 | 2;
  n?: string;
}
export type FlowResult = { k: number };

export const FLOW_DDL = `
CREATE TABLE ${CHAOS}.flow_nodes (flow int NOT NULL, node text NOT NULL, job_id bigint NOT NULL,
  deps text[] NOT NULL, policy text NOT NULL, fail int NOT NULL, k int NOT NULL);
CREATE TABLE ${CHAOS}.awaited (job_id bigint NOT NULL, k int NOT NULL UNIQUE, fail int NOT NULL);
`;

/** The diamond: node → the nodes it depends on. */
export const DIAMOND: Record<string, string[]> = { a: [], b: ['a'], c: ['a'], d: ['b', 'c'] };

export interface PlannedFlow {
  flow: number;
  /** d's policy when b or c failed: alternates (b always fails in every fifth flow, under both). */
  policy: DependencyFailurePolicy;
  nodes: Record<string, FlowPayload>;
}
export interface PlannedResult {
  k: number;
  f: 0 | 1 | 2;
}
export type FlowUnit = { type: 'flow'; flow: PlannedFlow } | { type: 'result'; r: PlannedResult };

/** k values of this plan start here, away from the main plan's (handler durations hash on k). */
const K0 = 50_000_000;

/** One diamond flow per 100 planned jobs and one awaited result per 50, interleaved. */
export function buildFlowPlan(jobs: number, seed: number): FlowUnit[] {
  const r = rng(seed);
  let k = K0;
  const fail = (): 0 | 1 | 2 => {
    const x = r();
    return x < 0.005 ? 2 : x < 0.03 ? 1 : 0;
  };
  const flows = Math.max(1, Math.round(jobs / 100));
  const results = Math.max(1, Math.round(jobs / 50));
  const units: FlowUnit[] = [];
  for (let i = 0; i < Math.max(flows, results); i++) {
    if (i < flows) {
      const nodes: Record<string, FlowPayload> = {};
      for (const n of Object.keys(DIAMOND)) nodes[n] = { k: k++, f: fail(), n };
      if (i % 5 === 2) nodes.b!.f = 2;
      units.push({ type: 'flow', flow: { flow: i, policy: i % 2 === 0 ? 'cancel' : 'continue', nodes } });
    }
    if (i < results) units.push({ type: 'result', r: { k: k++, f: i % 25 === 7 ? 2 : fail() } });
  }
  return units;
}

/** What the awaiting process was handed: the value, or the JobFailedError's state and reason. */
export type Delivery =
  | { state: 'succeeded'; value: unknown; via: 'handle' | 'awaitResult' }
  | { state: 'failed' | 'cancelled'; reason: string; via: 'handle' | 'awaitResult' };

export interface FlowLoadStats {
  flows: number;
  results: number;
  retries: number;
  /** Waits that ended in an error other than the job's own outcome (e.g. the database was down). */
  waitErrors: number;
}

/**
 * Enqueues the flow plan at an even pace over `spreadMs` and awaits every result job. `delivered` holds
 * what each wait returned (job id → delivery); `pending` how many waits are still running.
 */
export class FlowLoad {
  readonly delivered = new Map<string, Delivery>();
  readonly stats: FlowLoadStats = { flows: 0, results: 0, retries: 0, waitErrors: 0 };
  pending = 0;
  private stopped = false;
  private readonly waits: Promise<void>[] = [];
  private readonly arbiter: Arbiter;
  private readonly pool: pg.Pool;

  constructor(
    url: string,
    private readonly log: (line: string) => void,
  ) {
    this.arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 4 });
    this.pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
  }

  async run(plan: FlowUnit[], spreadMs: number): Promise<void> {
    const t0 = Date.now();
    for (let i = 0; i < plan.length; i++) {
      await sleep(Math.max(0, t0 + (i / plan.length) * spreadMs - Date.now()));
      const u = plan[i]!;
      const id = await commitOnce(
        () => this.enqueue(u),
        () => this.committed(u),
        (err) => {
          if (this.stats.retries++ % 10 === 0)
            this.log(`flow load: enqueue failed, retrying: ${String(err)}`);
        },
      );
      if (id !== null) {
        if (u.type === 'result') this.wait(id, null);
        else this.stats.flows++;
      }
    }
  }

  private async enqueue(u: FlowUnit): Promise<void> {
    const handle = await inTransaction(this.pool, async (client) => {
      if (u.type === 'flow') {
        const { flow, policy, nodes } = u.flow;
        const def = Object.fromEntries(
          Object.entries(DIAMOND).map(([name, deps]) => [
            name,
            {
              queue: FLOW_QUEUE,
              payload: nodes[name]!,
              dependsOn: deps,
              onDependencyFailure: name === 'd' ? policy : 'cancel',
              options: { maxAttempts: MAX_ATTEMPTS },
            },
          ]),
        );
        const h = await this.arbiter.flow({ name: `chaos ${flow}`, nodes: def }, { tx: client });
        const names = Object.keys(DIAMOND);
        await client.query(
          `INSERT INTO ${CHAOS}.flow_nodes (flow, node, job_id, deps, policy, fail, k)
           SELECT $1, unnest($2::text[]), unnest($3::bigint[]), string_to_array(unnest($4::text[]), ','),
                  unnest($5::text[]), unnest($6::int[]), unnest($7::int[])`,
          [
            flow,
            names,
            names.map((n) => h.jobs[n]!.id),
            names.map((n) => DIAMOND[n]!.join(',')),
            names.map((n) => (n === 'd' ? policy : 'cancel')),
            names.map((n) => nodes[n]!.f),
            names.map((n) => nodes[n]!.k),
          ],
        );
        return null;
      }
      const q = this.arbiter.queue<FlowPayload, FlowResult>(FLOW_QUEUE);
      const h = await q.enqueue(
        { k: u.r.k, f: u.r.f },
        { result: true, maxAttempts: MAX_ATTEMPTS, tx: client },
      );
      await client.query(`INSERT INTO ${CHAOS}.awaited (job_id, k, fail) VALUES ($1, $2, $3)`, [
        h.id,
        u.r.k,
        u.r.f,
      ]);
      return h;
    });
    if (handle === null || u.type === 'flow') {
      this.stats.flows++;
      return;
    }
    // Half are awaited through the handle, half by id only (as another process would).
    this.wait(handle.id, u.r.k % 2 === 0 ? () => handle.result({ timeoutMs: 5_000 }) : null);
  }

  /** The unit's job id (a flow: its first node's) if its commit happened, else null. */
  private async committed(u: FlowUnit): Promise<string | null> {
    const { rows } =
      u.type === 'flow'
        ? await this.pool.query(
            `SELECT job_id::text AS id FROM ${CHAOS}.flow_nodes WHERE flow = $1 LIMIT 1`,
            [u.flow.flow],
          )
        : await this.pool.query(`SELECT job_id::text AS id FROM ${CHAOS}.awaited WHERE k = $1`, [u.r.k]);
    return rows.length > 0 ? (rows[0].id as string) : null;
  }

  /** Awaits job `id`: first through its handle (when there is one), then by id, until it is delivered. */
  private wait(id: string, first: (() => Promise<FlowResult>) | null): void {
    this.stats.results++;
    this.pending++;
    const q = this.arbiter.queue<FlowPayload, FlowResult>(FLOW_QUEUE);
    const p = (async () => {
      let next = first;
      while (!this.stopped) {
        const via = next ? ('handle' as const) : ('awaitResult' as const);
        try {
          const value = await (next ?? (() => q.awaitResult(id, { timeoutMs: 5_000 })))();
          this.delivered.set(id, { state: 'succeeded', value, via });
          return;
        } catch (err) {
          if (err instanceof JobFailedError) {
            this.delivered.set(id, { state: err.state, reason: err.reason, via });
            return;
          }
          // A timeout (still running) or the database being away: wait again, by id.
          if ((err as { code?: string }).code !== 'RESULT_TIMEOUT') {
            if (this.stats.waitErrors++ < 3)
              this.log(`flow load: waiting for job ${id} failed: ${String(err)}`);
            await sleep(300);
          }
          next = null;
        }
      }
    })().finally(() => this.pending--);
    this.waits.push(p);
  }

  /** Ends the waits still running (after the drain) and closes the connections. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.waits);
    await this.arbiter.close();
    await this.pool.end();
  }
}

/** Flow-queue work not finished: tracked jobs not settled, and jobs that can still be claimed. */
export async function flowsLeft(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM "${SCHEMA}"._tracked_jobs WHERE queue = $1 AND state = 'unfinished')::int
          + (SELECT count(*) FROM "${SCHEMA}"."${FLOW_QUEUE}" WHERE NOT suspended)::int AS n`,
    [FLOW_QUEUE],
  );
  return rows[0]!.n;
}
