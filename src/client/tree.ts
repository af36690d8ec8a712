import { isPlainObject } from '../core/validate.js';
import type { Executor } from '../db/executor.js';
import { jobInsert } from '../db/queries/job-insert.js';
import type { JobRow } from '../db/rows.js';
import { ValidationError } from '../errors.js';
import type { EnqueueOptions, Job } from '../types.js';
import type { QueueContext } from './context.js';
import { toJobInsert } from './enqueue-options.js';

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
    throw new ValidationError(
      'tree',
      counter.n,
      `a tree may have at most ${MAX_TREE_NODES} nodes`,
      'BATCH_TOO_LARGE',
    );
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

/** Inserts a validated tree inside `tx`, parents before children. */
export async function insertTree<T>(
  tx: Executor,
  ctx: QueueContext,
  root: TreeNode<T>,
  toJob: (r: JobRow) => Job<T>,
): Promise<InsertedTree<T>> {
  const checked = check<T>(root, 'tree', { n: 0 }, true);
  // Validate every node's payload and options before writing anything.
  const prepared = new Map<Checked<T>, ReturnType<typeof toJobInsert>>();
  const walk = (c: Checked<T>) => {
    const opts = c.node.options ?? {};
    const ins = toJobInsert(c.node.payload, opts, ctx.maxPayloadBytes, `${c.path}.options`, {
      isRollup: c.node.rollup ?? false,
    });
    if (c.children.length > 0) ins.suspended = true;
    prepared.set(c, ins);
    c.children.forEach(walk);
  };
  walk(checked);
  const insert = async (c: Checked<T>, parentId: string | null): Promise<InsertedTree<T>> => {
    const ins = prepared.get(c)!;
    const row = await jobInsert(tx, ctx.t, parentId === null ? ins : { ...ins, parentId });
    if (!row) throw new Error('tree insert returned no row');
    const children: InsertedTree<T>[] = [];
    for (const child of c.children) children.push(await insert(child, row.id));
    return { job: toJob(row), children };
  };
  return insert(checked, null);
}
