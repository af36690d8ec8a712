import { BatchTooLargeError, FlowCycleError, UnknownDependencyError, ValidationError } from '../errors.js';
import { validateQueueName } from './identifiers.js';
import {
  DEFAULT_RESULT_RETAIN_MS,
  MAX_RESULT_RETAIN_MS,
  toFailurePolicy,
  type DependencyFailurePolicy,
} from './tracking.js';
import { checkOptions, durationMs, isPlainObject } from './validate.js';

/** The most nodes a flow may have. */
export const MAX_FLOW_NODES = 1_000;

/** Node names: letters, digits, `_`, `-` and `.`, 1 to 64 characters. */
const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Options a flow node's job may not take: the flow decides them, or they may make an enqueue insert nothing. */
export const NODE_BANNED_OPTIONS = [
  'dedup',
  'idempotencyKey',
  'parentId',
  'suspended',
  'unique',
  'debounce',
  'throttle',
  'maxQueued',
  'result',
  'dependsOn',
  'onDependencyFailure',
  'tx',
] as const;

/** One checked node, its dependencies as names, in definition order. */
export interface CheckedNode {
  name: string;
  queue: string;
  payload: unknown;
  options: Record<string, unknown>;
  dependsOn: string[];
  onFailure: DependencyFailurePolicy;
}

export interface CheckedFlow {
  name: string | null;
  retainMs: number;
  /** Nodes in an order where every node comes after its dependencies. */
  nodes: CheckedNode[];
  /** Node names in definition order. */
  order: string[];
}

/**
 * Validates a flow definition before anything is written: node names, queues, dependencies that name
 * nodes of the flow, no cycle (FlowCycleError names one), at most MAX_FLOW_NODES nodes.
 * `queueName` turns a node's `queue` (a name or a Queue handle) into a name.
 */
export function checkFlow(
  definition: unknown,
  queueName: (q: unknown, field: string) => string,
): CheckedFlow {
  const d = checkOptions<{ name: string; nodes: Record<string, unknown>; retainMs: number }>(
    definition,
    'flow',
    ['name', 'nodes', 'retainMs'],
  );
  let name: string | null = null;
  if (d.name !== undefined && d.name !== null) {
    if (typeof d.name !== 'string' || d.name.length === 0 || d.name.length > 200) {
      throw new ValidationError('flow.name', d.name, 'must be a string of 1 to 200 characters');
    }
    name = d.name;
  }
  const retainMs =
    d.retainMs === undefined
      ? DEFAULT_RESULT_RETAIN_MS
      : durationMs(d.retainMs, 'flow.retainMs', MAX_RESULT_RETAIN_MS, 1);
  if (!isPlainObject(d.nodes)) throw new ValidationError('flow.nodes', d.nodes, 'must be an object of nodes');
  const names = Object.keys(d.nodes);
  if (names.length === 0) throw new ValidationError('flow.nodes', d.nodes, 'must have at least one node');
  if (names.length > MAX_FLOW_NODES) {
    throw new BatchTooLargeError('flow.nodes', names.length, MAX_FLOW_NODES, 'nodes in a flow');
  }
  const byName = new Map<string, CheckedNode>();
  for (const n of names) {
    const f = `flow.nodes.${n}`;
    if (!NODE_NAME.test(n)) throw new ValidationError(f, n, `node names must match ${NODE_NAME.source}`);
    const spec: Partial<{
      queue: unknown;
      payload: unknown;
      options: Record<string, unknown>;
      dependsOn: unknown;
      onDependencyFailure: unknown;
    }> = checkOptions(d.nodes[n], f, ['queue', 'payload', 'options', 'dependsOn', 'onDependencyFailure']);
    if (!('payload' in (d.nodes[n] as object)))
      throw new ValidationError(`${f}.payload`, undefined, 'is required');
    const queue = validateQueueName(queueName(spec.queue, `${f}.queue`), `${f}.queue`);
    const options = checkOptions<Record<string, unknown>>(spec.options ?? {}, `${f}.options`, [
      'groupKey',
      'limitKey',
      'priority',
      'delayMs',
      'runAt',
      'maxAttempts',
      'meta',
    ]);
    for (const banned of NODE_BANNED_OPTIONS) {
      if (options[banned] !== undefined)
        throw new ValidationError(`${f}.options.${banned}`, options[banned], 'is not allowed in a flow');
    }
    const deps: unknown = spec.dependsOn ?? [];
    if (!Array.isArray(deps))
      throw new ValidationError(`${f}.dependsOn`, deps, 'must be an array of node names');
    const dependsOn: string[] = [];
    for (const dep of deps as unknown[]) {
      if (typeof dep !== 'string' || !(dep in d.nodes)) throw new UnknownDependencyError(n, String(dep));
      if (dep === n) throw new FlowCycleError([n, n]);
      if (!dependsOn.includes(dep)) dependsOn.push(dep);
    }
    byName.set(n, {
      name: n,
      queue,
      payload: spec.payload,
      options,
      dependsOn,
      onFailure: toFailurePolicy(spec.onDependencyFailure, `${f}.onDependencyFailure`),
    });
  }
  return { name, retainMs, nodes: topoOrder(byName), order: names };
}

/** The nodes, dependencies first; throws FlowCycleError with one cycle when there is one. */
function topoOrder(nodes: Map<string, CheckedNode>): CheckedNode[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: CheckedNode[] = [];
  const stack: string[] = [];
  const visit = (name: string) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const from = stack.indexOf(name);
      throw new FlowCycleError([...stack.slice(from), name]);
    }
    state.set(name, 'visiting');
    stack.push(name);
    const node = nodes.get(name)!;
    for (const dep of node.dependsOn) visit(dep);
    stack.pop();
    state.set(name, 'done');
    order.push(node);
  };
  for (const name of nodes.keys()) visit(name);
  return order;
}
