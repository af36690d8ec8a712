import { isPlainObject } from '../core/validate.js';
import { sortForInsert, type JobInsert } from '../db/queries/job-insert.js';
import type { JobRow } from '../db/rows.js';
import { BatchTooLargeError, ValidationError } from '../errors.js';
import type { EnqueueOptions, Job } from '../types.js';
import type { JobStore } from '../store/job-store.js';
import { toJobInsert } from '../store/enqueue-options.js';

export const MAX_TREE_NODES = 10_000;

/** One node of a job tree. A node with children waits for them; `rollup` gives it their results. */
export interface TreeNode<T> {
  payload: T;
  /** Enqueue options for this node. parentId is allowed on the root only; dedup is not allowed in trees. */
  options?: Omit<EnqueueOptions, 'dedup' | 'idempotencyKey'> & { parentId?: EnqueueOptions['parentId'] };
  /** The node's completion round receives its children's merged results and errors. */
  rollup?: boolean;
  children?: TreeNode<T>[];
}

/** What `enqueueTree` inserted, in the shape of the TreeNode given: each node's job and its children. */
export interface InsertedTree<T> {
  job: Job<T>;
  children: InsertedTree<T>[];
}

interface Checked<T> {
  node: TreeNode<T>;
  path: string;
  children: Checked<T>[];
}

function check<T>(node: unknown, path: string, counter: { n: number }, isRoot: boolean): Checked<T> {
  if (!isPlainObject(node) || !('payload' in node)) {
    throw new ValidationError(path, node, 'must be a tree node { payload, options?, rollup?, children? }');
  }
  for (const key of Object.keys(node)) {
    if (!['payload', 'options', 'rollup', 'children'].includes(key)) {
      throw new ValidationError(`${path}.${key}`, node[key], 'unknown tree node field');
    }
  }
  if (++counter.n > MAX_TREE_NODES) {
    throw new BatchTooLargeError('tree', counter.n, MAX_TREE_NODES, 'nodes in a tree');
  }
  const opts = (node.options ?? {}) as Record<string, unknown>;
  if (isPlainObject(opts)) {
    for (const banned of ['dedup', 'idempotencyKey']) {
      if (opts[banned] !== undefined)
        throw new ValidationError(`${path}.options.${banned}`, opts[banned], 'is not allowed in a tree');
    }
    if (!isRoot && opts.parentId !== undefined) {
      throw new ValidationError(
        `${path}.options.parentId`,
        opts.parentId,
        'is set by the tree; only the root may have one',
      );
    }
  }
  if (node.rollup !== undefined && typeof node.rollup !== 'boolean') {
    throw new ValidationError(`${path}.rollup`, node.rollup, 'must be a boolean');
  }
  const kids = node.children ?? [];
  if (!Array.isArray(kids)) throw new ValidationError(`${path}.children`, kids, 'must be an array');
  return {
    node: node as unknown as TreeNode<T>,
    path,
    children: kids.map((c, i) => check<T>(c, `${path}.children[${i}]`, counter, false)),
  };
}

/** Rows per insert statement when a tree level is large. */
const LEVEL_CHUNK = 1_000;

/** A node waiting to be inserted, and where its inserted form goes in the result. */
interface Pending<T> {
  c: Checked<T>;
  row: JobInsert;
  /** The parent's result node (null for the root) and this node's index among its children. */
  parent: InsertedTree<T> | null;
  index: number;
  /** Set once the node's row is in. */
  id?: string;
  out?: InsertedTree<T>;
}

/**
 * Inserts a validated tree inside `tx`, one level at a time: a child needs its parent's id, which the
 * database assigns, so each level waits for the one above, but a whole level goes in one multi-row
 * statement (chunked when large) instead of one round trip per node.
 */
export async function insertTree<T>(
  store: JobStore,
  maxPayloadBytes: number,
  root: TreeNode<T>,
  toJob: (r: JobRow) => Job<T>,
): Promise<InsertedTree<T>> {
  const checked = check<T>(root, 'tree', { n: 0 }, true);
  // Validate every node's payload and options before writing anything.
  const prepared = new Map<Checked<T>, JobInsert>();
  const walk = (c: Checked<T>) => {
    const opts = c.node.options ?? {};
    const ins = toJobInsert(c.node.payload, opts, maxPayloadBytes, `${c.path}.options`, {
      isRollup: c.node.rollup ?? false,
      single: false,
    });
    if (c.children.length > 0) ins.suspended = true;
    prepared.set(c, ins);
    c.children.forEach(walk);
  };
  walk(checked);
  // The tree goes in level by level, several statements: its groups' insert locks are taken first, all
  // at once and in key order, as any batch's are within its one statement (see jobInsertLocks).
  if (checked.children.length > 0) await store.insertLocks([...prepared.values()]);

  let result: InsertedTree<T> | null = null;
  // The root keeps its own parentId option (if any); every other node gets its parent's id below.
  let level: Pending<T>[] = [{ c: checked, row: prepared.get(checked)!, parent: null, index: 0 }];
  while (level.length > 0) {
    // Sorted like every other batch insert, so concurrent statements take group locks in one order
    // and cannot deadlock within a level; the sort is stable, so siblings keep their order (and
    // their id order) inside a group. Ids are assigned in this row order.
    const sorted = sortForInsert(level.map((p) => ({ p, groupKey: p.row.groupKey })));
    for (let from = 0; from < sorted.length; from += LEVEL_CHUNK) {
      const chunk = sorted.slice(from, from + LEVEL_CHUNK);
      // No dedup or idempotency keys in a tree, so there is no conflict clause and every row comes back.
      const rows = await store.insertRows(chunk.map((s) => s.p.row));
      // No conflict clause: one row per node, in input order (jobInsertMany checks the count).
      for (let i = 0; i < chunk.length; i++) {
        const { p } = chunk[i]!;
        const row = rows[i]!;
        p.id = row.id;
        const job = toJob(row);
        // A node with children is suspended until they finish: what a read reports as waiting.
        p.out = {
          job: p.c.children.length > 0 ? { ...job, status: 'waiting' } : job,
          children: new Array<InsertedTree<T>>(p.c.children.length),
        };
        if (p.parent === null) result = p.out;
        else p.parent.children[p.index] = p.out;
      }
    }
    // The next level in the caller's order: parents in this level's order, each one's children in theirs.
    const next: Pending<T>[] = [];
    for (const p of level) {
      p.c.children.forEach((child, index) => {
        next.push({ c: child, row: { ...prepared.get(child)!, parentId: p.id! }, parent: p.out!, index });
      });
    }
    level = next;
  }
  if (result === null) throw new Error('tree insert returned no root');
  return result;
}
