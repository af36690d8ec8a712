import { checkFlow, type CheckedFlow } from '../core/flow-def.js';
import { toJobId } from '../core/ids.js';
import { withTrackMeta, type DependencyFailurePolicy, type TrackedState } from '../core/tracking.js';
import { checkOptions, intInRange } from '../core/validate.js';
import type { Executor } from '../db/executor.js';
import { toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import {
  flowGet,
  flowInsert,
  flowList,
  flowMarkCancelled,
  flowNodes,
  flowState,
  liveStatuses,
  type FlowGraphNode,
} from '../db/queries/flow-graph.js';
import { jobCancelMany } from '../db/queries/job-cancel.js';
import { toJob } from '../db/rows.js';
import type { JobInsert } from '../db/queries/job-insert.js';
import { dependenciesOf, edgesInsert, trackedInsert } from '../db/queries/tracked.js';
import { queueTables } from '../db/sql.js';
import { FlowNotFoundError, ResultTimeoutError } from '../errors.js';
import { toJobInsert } from '../store/enqueue-options.js';
import type { EnqueueOptions, Job, JobId } from '../types.js';
import { DEFAULT_RESULT_WAIT_MS } from './awaitable.js';
import { Queue } from './queue.js';

/** Options a flow node's job may take (the flow decides the rest). */
export type FlowNodeOptions = Pick<
  EnqueueOptions,
  'groupKey' | 'limitKey' | 'priority' | 'delayMs' | 'runAt' | 'maxAttempts' | 'meta'
>;

/**
 * One node of a flow: a job on `queue` (a name, or a typed Queue handle: then `payload` is checked against
 * it and the node's result is typed), run once the nodes it `dependsOn` succeeded. `onDependencyFailure`:
 * 'cancel' (default: it never runs if one of them failed) or 'continue' (it runs and sees the error).
 */
export interface FlowNode<T = unknown, R = unknown, K extends string = string> {
  queue: string | Queue<T, R>;
  payload: T;
  dependsOn?: readonly K[];
  onDependencyFailure?: DependencyFailurePolicy;
  options?: FlowNodeOptions;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FlowNodes = Record<string, FlowNode<any, any>>;

type PayloadOf<N> = N extends { queue: Queue<infer T, unknown> }
  ? T
  : N extends { payload: infer P }
    ? P
    : unknown;
/** The result type of a node: its Queue handle's R, else unknown. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NodeResult<N> = N extends { queue: Queue<any, infer R> } ? R : unknown;

/** A flow definition; node payloads are checked against their typed queues, dependsOn against node names. */
export interface FlowDefinition<N extends FlowNodes> {
  name?: string;
  nodes: N & {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    [K in keyof N]: N[K] extends { queue: Queue<infer T, any> }
      ? FlowNode<T, NodeResult<N[K]>, Extract<keyof N, string>>
      : FlowNode<unknown, unknown, Extract<keyof N, string>>;
  };
  /** How long the flow and its nodes' results are kept once every node finished (default one day). */
  retainMs?: number;
}

/** What `arbiter.flow` returns: the flow's id, each node's job, and `result()` to await them all. */
export interface FlowHandle<N extends FlowNodes> {
  id: string;
  name: string | null;
  jobs: { [K in keyof N]: Job<PayloadOf<N[K]>> };
  /**
   * Resolves with every node's result once all succeeded; rejects with the JobFailedError of a node that
   * failed or was cancelled, or ResultTimeoutError after `timeoutMs` (default 60 s).
   */
  result(options?: { timeoutMs?: number }): Promise<{ [K in keyof N]: NodeResult<N[K]> }>;
}

/** A node as shown: its state (a pending node's shows its job's status), job, dependencies and outcome. */
export interface FlowNodeState {
  name: string;
  queue: string;
  jobId: JobId;
  /** waiting (for dependencies), a live job's status (ready, in-flight, retrying…), or succeeded, failed, cancelled. */
  state: string;
  dependsOn: string[];
  onDependencyFailure: DependencyFailurePolicy;
  /** Dependencies not finished yet (what a waiting node waits for). */
  waitingFor: string[];
  result: unknown;
  error: string | null;
  finishedAt: Date | null;
}

export interface FlowInfo {
  id: string;
  name: string | null;
  state: 'active' | 'succeeded' | 'failed' | 'cancelled';
  createdAt: Date;
  cancelledAt: Date | null;
  finishedAt: Date | null;
  /** Nodes in definition order. */
  nodes: FlowNodeState[];
}

export interface FlowSummary {
  id: string;
  name: string | null;
  state: FlowInfo['state'];
  nodeCount: number;
  counts: Record<TrackedState, number>;
  createdAt: Date;
  finishedAt: Date | null;
}

/** One dependency of a job as its handler sees it: the node name (flows) or queue/id, and its outcome. */
export interface DependencyOutcome {
  queue: string;
  jobId: JobId;
  node: string | null;
  state: TrackedState;
  value: unknown;
  error: string | null;
}

/**
 * Flows (`arbiter.flows`): named nodes, each a job on any queue, with dependencies between them. A node's
 * job is suspended until the nodes it depends on succeeded; it then runs like any job and reads their
 * results with `dependencies(job)`. See docs/workflows.md.
 */
/** What flows need of their Arbiter (which is one: it creates its Flows). */
export interface FlowHost {
  readonly db: Executor;
  readonly schema: string;
  readonly maxPayloadBytes: number;
  checkSchema(): Promise<void>;
  queue<T = unknown, R = unknown>(name: string): Queue<T, R>;
}

export class Flows {
  constructor(private readonly arbiter: FlowHost) {}

  private get db(): Executor {
    return this.arbiter.db;
  }

  private get schema(): string {
    return this.arbiter.schema;
  }

  /**
   * Enqueues a flow in one transaction (a savepoint inside the caller's `tx`): every node's job (suspended
   * while it has dependencies), their records and edges. Bad definitions (cycles, unknown nodes, more than
   * 1,000 nodes, a bad payload or option) throw typed errors before anything is written; a missing queue
   * rolls the whole flow back.
   */
  async create<N extends FlowNodes>(
    definition: FlowDefinition<N>,
    options: { tx?: ExecutorSource } = {},
  ): Promise<FlowHandle<N>> {
    const o = checkOptions<{ tx: ExecutorSource }>(options, 'options', ['tx']);
    const flow = checkFlow(definition, (q, field) => (q instanceof Queue ? q.name : (q as string)) ?? field);
    const rows = new Map<string, JobInsert>();
    for (const n of flow.nodes) {
      rows.set(
        n.name,
        toJobInsert(n.payload, n.options, this.arbiter.maxPayloadBytes, `flow.nodes.${n.name}.options`, {
          single: false,
        }),
      );
    }
    await this.arbiter.checkSchema();
    const db =
      o.tx === undefined
        ? this.db
        : toExecutor(o.tx, { preparedStatements: this.db.preparedStatements !== false });
    const inserted = await db.transaction((tx) => this.insert(tx, flow, rows));
    // In the definition's order (the insert went queue by queue).
    const jobs: Record<string, Job> = {};
    for (const name of flow.order) jobs[name] = inserted.jobs.get(name)!;
    const handle: FlowHandle<N> = {
      id: inserted.id,
      name: flow.name,
      jobs: jobs as FlowHandle<N>['jobs'],
      result: (opts) => this.awaitAll(new Map(Object.entries(jobs)), opts) as never,
    };
    return handle;
  }

  private async insert(
    tx: Executor,
    flow: CheckedFlow,
    rows: Map<string, JobInsert>,
  ): Promise<{ id: string; jobs: Map<string, Job> }> {
    const graph: Record<string, FlowGraphNode> = {};
    for (const n of flow.nodes) {
      graph[n.name] = { name: n.name, queue: n.queue, dependsOn: n.dependsOn, onFailure: n.onFailure };
    }
    const ordered = flow.order.map((name) => graph[name]!);
    const f = await flowInsert(tx, this.schema, flow.name, ordered, flow.retainMs);
    const byQueue = new Map<string, string[]>();
    for (const n of flow.nodes) byQueue.set(n.queue, [...(byQueue.get(n.queue) ?? []), n.name]);
    const ids = new Map<string, Job>();
    for (const queue of [...byQueue.keys()].sort()) {
      const names = byQueue.get(queue)!;
      const store = this.arbiter.queue(queue).store.using(tx);
      const inserts = names.map((name) => {
        const row = rows.get(name)!;
        const deps = graph[name]!.dependsOn.length;
        return { ...row, meta: withTrackMeta(row.meta, { flow: f.id, node: name }), suspended: deps > 0 };
      });
      await store.insertLocks(inserts);
      const got = await store.run(() => store.insertRows(inserts), { parentId: null });
      got.forEach((r, i) => {
        const job = toJob(queue, r);
        ids.set(names[i]!, r.suspended ? { ...job, status: 'waiting' } : job);
      });
    }
    await trackedInsert(
      tx,
      this.schema,
      flow.nodes.map((n) => ({
        queue: n.queue,
        jobId: ids.get(n.name)!.id,
        state: 'unfinished',
        error: null,
        flowId: f.id,
        node: n.name,
        depsPending: n.dependsOn.length,
        onDepFailure: n.onFailure,
        retainMs: flow.retainMs,
      })),
    );
    await edgesInsert(
      tx,
      this.schema,
      flow.nodes.flatMap((n) =>
        n.dependsOn.map((dep) => ({
          queue: n.queue,
          jobId: ids.get(n.name)!.id,
          depQueue: graph[dep]!.queue,
          depJobId: ids.get(dep)!.id,
          state: 'unfinished' as const,
        })),
      ),
    );
    return { id: f.id, jobs: ids };
  }

  private async awaitAll(jobs: Map<string, Job>, options: unknown): Promise<Record<string, unknown>> {
    const o = checkOptions<{ timeoutMs: number }>(options, 'options', ['timeoutMs']);
    const timeoutMs = o.timeoutMs ?? DEFAULT_RESULT_WAIT_MS;
    const deadline = Date.now() + timeoutMs;
    const out: Record<string, unknown> = {};
    for (const [name, job] of jobs) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ResultTimeoutError(job.queue, job.id, timeoutMs);
      const q = this.arbiter.queue(job.queue);
      out[name] = await q.awaitResult(job.id, { timeoutMs: Math.max(1, Math.round(left)) });
    }
    return out;
  }

  /** A flow's state and its nodes'; FlowNotFoundError when there is no such flow. */
  async get(id: string | number | bigint): Promise<FlowInfo> {
    const flowId = toJobId(id, 'id');
    await this.arbiter.checkSchema();
    const f = await flowGet(this.db, this.schema, flowId);
    if (!f) throw new FlowNotFoundError(flowId);
    const rows = await flowNodes(this.db, this.schema, flowId);
    const byName = new Map(rows.map((r) => [r.node!, r]));
    const pendingByQueue = new Map<string, string[]>();
    for (const r of rows)
      if (r.state === 'unfinished')
        pendingByQueue.set(r.queue, [...(pendingByQueue.get(r.queue) ?? []), r.job_id]);
    const live = new Map<string, string>();
    for (const [queue, ids] of pendingByQueue) {
      const statuses = await liveStatuses(this.db, this.schema, queue, ids).catch(
        () => new Map<string, string>(),
      );
      for (const [id, status] of statuses) live.set(`${queue}/${id}`, status);
    }
    const nodes: FlowNodeState[] = f.graph.map((g) => {
      const name = g.name;
      const r = byName.get(name);
      const waitingFor = g.dependsOn.filter((d) => byName.get(d)?.state === 'unfinished');
      let state: string = r?.state ?? 'unknown';
      if (r?.state === 'unfinished') {
        state = r.deps_pending > 0 ? 'waiting' : (live.get(`${r.queue}/${r.job_id}`) ?? 'finishing');
        if (state === 'suspended' && r.deps_pending > 0) state = 'waiting';
      }
      return {
        name,
        queue: g.queue,
        jobId: r?.job_id ?? '',
        state,
        dependsOn: g.dependsOn,
        onDependencyFailure: g.onFailure,
        waitingFor: r?.state === 'unfinished' && r.deps_pending > 0 ? waitingFor : [],
        result: r?.state === 'succeeded' ? (r.result ?? null) : null,
        error: r?.error ?? null,
        finishedAt: r?.finished_at ?? null,
      };
    });
    const states = rows.map((r) => r.state);
    const state = flowState(f.cancelled_at, states);
    const finishedAt =
      state === 'active'
        ? null
        : rows.reduce<Date | null>(
            (m, r) => (r.finished_at && (!m || r.finished_at > m) ? r.finished_at : m),
            null,
          );
    return {
      id: f.id,
      name: f.name,
      state,
      createdAt: f.created_at,
      cancelledAt: f.cancelled_at,
      finishedAt,
      nodes,
    };
  }

  /** The newest flows first, each with its nodes counted by state. */
  async list(options: { limit?: number; beforeId?: string } = {}): Promise<FlowSummary[]> {
    const o = checkOptions<{ limit: number; beforeId: string }>(options, 'options', ['limit', 'beforeId']);
    const limit = o.limit === undefined ? 50 : intInRange(o.limit, 'options.limit', 1, 1000);
    const before = o.beforeId === undefined ? null : toJobId(o.beforeId, 'options.beforeId');
    await this.arbiter.checkSchema();
    const rows = await flowList(this.db, this.schema, limit, before);
    return rows.map((r) => {
      const counts = {
        unfinished: r.unfinished,
        succeeded: r.succeeded,
        failed: r.failed,
        cancelled: r.cancelled,
      };
      const states: TrackedState[] = [];
      for (const [k, v] of Object.entries(counts)) for (let i = 0; i < v; i++) states.push(k as TrackedState);
      return {
        id: r.id,
        name: r.name,
        state: flowState(r.cancelled_at, states),
        nodeCount: r.node_count,
        counts,
        createdAt: r.created_at,
        finishedAt: r.finished_at,
      };
    });
  }

  /**
   * Cancels a flow: every node not finished is cancelled (its job removed from its queue; a running one is
   * told to stop, like any cancel), in one transaction. Returns how many jobs were removed; throws
   * FlowNotFoundError when there is no such flow.
   */
  async cancel(id: string | number | bigint, options: { tx?: ExecutorSource } = {}): Promise<number> {
    const flowId = toJobId(id, 'id');
    const o = checkOptions<{ tx: ExecutorSource }>(options, 'options', ['tx']);
    await this.arbiter.checkSchema();
    const db =
      o.tx === undefined
        ? this.db
        : toExecutor(o.tx, { preparedStatements: this.db.preparedStatements !== false });
    return db.transaction(async (tx) => {
      const live = await flowMarkCancelled(tx, this.schema, flowId);
      if (live === null) throw new FlowNotFoundError(flowId);
      let n = 0;
      for (const [queue, ids] of live) {
        // jobCancelMany deletes as a cancel: the nodes are recorded cancelled, not succeeded.
        n += await jobCancelMany(tx, queueTables(this.schema, queue), ids);
      }
      return n;
    });
  }

  /**
   * The dependencies of a job (a flow node, or a job enqueued with `dependsOn`) with their outcomes, for its
   * handler: keyed by node name in a flow, else by `queue/id`.
   */
  async dependencies(job: {
    queue: string;
    id: JobId | number | bigint;
  }): Promise<Record<string, DependencyOutcome>> {
    const id = toJobId(job.id, 'job.id');
    await this.arbiter.checkSchema();
    const rows = await dependenciesOf(this.db, this.schema, job.queue, id);
    const out: Record<string, DependencyOutcome> = {};
    for (const r of rows) {
      out[r.node ?? `${r.queue}/${r.job_id}`] = {
        queue: r.queue,
        jobId: r.job_id,
        node: r.node,
        state: r.state,
        value: r.state === 'succeeded' ? (r.result ?? null) : null,
        error: r.error,
      };
    }
    return out;
  }
}
