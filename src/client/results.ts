import { mergeChildOutcomes } from '../core/child-results.js';
import { toJobId } from '../core/ids.js';
import { encodePayload } from '../core/payload.js';
import { withTranslation } from '../db/errors.js';
import {
  resultDeadChildErrors,
  resultInsert,
  resultParentState,
  resultPersistParentState,
  resultReadChildOutcomes,
  resultsByParent,
} from '../db/queries/result.js';
import type { ChildOutcome, ChildOutcomesRaw, JobId } from '../types.js';
import type { QueueContext } from './context.js';

type IdInput = JobId | number | bigint;

function toMap<V>(obj: Record<string, V> | null | undefined): Map<JobId, V> {
  return new Map(Object.entries(obj ?? {}));
}

/**
 * Child results of job trees (`queue.results`), for rollup finalizers. Results are normally stored by
 * `ack(child, { result })`; these methods store, read and snapshot them directly.
 * `childOutcomes` is the finalizer's view of its children.
 */
export class Results {
  constructor(protected readonly ctx: QueueContext) {}

  /**
   * Stores (or replaces) a child's result for its parent. The parent must be in
   * the queue (ParentNotFoundError otherwise); rows go away with the parent. Returns 1.
   */
  async insert(parentId: IdInput, childId: IdInput, value: unknown): Promise<number> {
    const parent = toJobId(parentId, 'parentId');
    const child = toJobId(childId, 'childId');
    const json = encodePayload(value, this.ctx.maxPayloadBytes);
    return withTranslation(this.ctx, () => resultInsert(this.ctx.db, this.ctx.t, parent, child, json), {
      parentId: parent,
    });
  }

  /** Child id → stored result, ordered by child id. */
  async byParent(parentId: IdInput): Promise<Map<JobId, unknown>> {
    const parent = toJobId(parentId, 'parentId');
    const rows = await withTranslation(this.ctx, () => resultsByParent(this.ctx.db, this.ctx.t, parent));
    return new Map(rows.map((r) => [r.child_id, r.result]));
  }

  /** Child job id → last error, for the parent's children in the dead-letter table. */
  async deadChildErrors(parentId: IdInput): Promise<Map<JobId, string>> {
    const parent = toJobId(parentId, 'parentId');
    const rows = await withTranslation(this.ctx, () =>
      resultDeadChildErrors(this.ctx.db, this.ctx.t, parent),
    );
    return new Map(rows.map((r) => [r.job_id, r.error]));
  }

  /**
   * Overwrites a job's parent_state snapshot; `null` clears it. Dead-letter
   * moves already snapshot stored results, so this is for callers keeping their own state. Returns 1, or
   * 0 when the job is not in the queue.
   */
  async persistParentState(jobId: IdInput, state: unknown): Promise<number> {
    const id = toJobId(jobId, 'jobId');
    const json = state === null ? null : encodePayload(state, this.ctx.maxPayloadBytes);
    return withTranslation(this.ctx, () => resultPersistParentState(this.ctx.db, this.ctx.t, id, json));
  }

  /** The job's parent_state snapshot, or null when it has none or is not in the queue. */
  async parentState(jobId: IdInput): Promise<unknown> {
    const id = toJobId(jobId, 'jobId');
    const state = await withTranslation(this.ctx, () => resultParentState(this.ctx.db, this.ctx.t, id));
    return state ?? null;
  }

  /**
   * What a rollup finalizer knows of each child, by child id in id order: `{ ok: true, value }` or
   * `{ ok: false, error }`. A dead-lettered child failed even if an older result or the snapshot says
   * otherwise, and a stored result beats the snapshot taken before a dead-letter move. One statement.
   */
  async childOutcomes(parentId: IdInput): Promise<Map<JobId, ChildOutcome>> {
    const raw = await this.readChildOutcomesRaw(parentId);
    return mergeChildOutcomes(raw.results, raw.dlqErrors, raw.snapshot);
  }

  /**
   * Results, dead children's errors, the snapshot and the dead letters of a parent's children, read in one
   * statement so they are consistent with each other.
   */
  async readChildOutcomesRaw(parentId: IdInput): Promise<ChildOutcomesRaw> {
    const parent = toJobId(parentId, 'parentId');
    const row = await withTranslation(this.ctx, () =>
      resultReadChildOutcomes(this.ctx.db, this.ctx.t, parent),
    );
    return {
      results: toMap(row.results),
      dlqErrors: toMap(row.dlq_errors),
      snapshot: row.snapshot ?? null,
      dlqFailures: toMap(row.dlq_failures),
    };
  }
}
