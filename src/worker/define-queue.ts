import type { Arbiter } from '../client/arbiter.js';
import type { QueueContext } from '../client/context.js';
import { Queue, type EnqueueCallOptions, type EnqueueItem, type EnqueueReturn } from '../client/queue.js';
import type { InsertedTree, TreeNode } from '../client/tree.js';
import {
  runSchema,
  type InferInput,
  type InferOutput,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import { toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import { ValidationError } from '../errors.js';
import type { Job } from '../types.js';
import type { QueueConfig } from './queue-options.js';

/**
 * A queue whose payload is checked by a Standard Schema (zod, valibot, arktype…) before it is stored:
 * an invalid payload is rejected with a ValidationError naming the failing fields, and nothing is written.
 * The stored payload is the schema's input; the worker validates it again after the claim and hands the
 * handler the schema's output.
 */
export class SchemaQueue<S extends StandardSchemaV1> extends Queue<InferInput<S>> {
  constructor(
    ctx: QueueContext,
    readonly schema: S,
  ) {
    super(ctx);
  }

  override using(source: ExecutorSource): SchemaQueue<S> {
    return new SchemaQueue<S>({ ...this.ctx, db: toExecutor(source, this.executorOptions()) }, this.schema);
  }

  private async check(payload: unknown, field: string): Promise<void> {
    const r = await runSchema(this.schema, payload);
    if (!r.ok) throw new ValidationError(field, payload, `failed schema validation: ${r.message}`);
  }

  override async enqueue<O extends EnqueueCallOptions = EnqueueCallOptions>(
    payload: InferInput<S>,
    options?: O,
  ): Promise<EnqueueReturn<InferInput<S>, unknown, O>> {
    await this.check(payload, 'payload');
    return super.enqueue(payload, options);
  }

  override async enqueueMany(
    items: readonly EnqueueItem<InferInput<S>>[],
    options?: { tx?: ExecutorSource },
  ): Promise<Job<InferInput<S>>[]> {
    await this.checkItems(items);
    return super.enqueueMany(items, options);
  }

  override async enqueueManyCount(
    items: readonly EnqueueItem<InferInput<S>>[],
    options?: { tx?: ExecutorSource },
  ): Promise<number> {
    await this.checkItems(items);
    return super.enqueueManyCount(items, options);
  }

  override async enqueueTree(
    root: TreeNode<InferInput<S>>,
    options?: { tx?: ExecutorSource },
  ): Promise<InsertedTree<InferInput<S>>> {
    const walk = async (node: TreeNode<InferInput<S>>, path: string): Promise<void> => {
      if (node === null || typeof node !== 'object') return; // the tree validator reports the shape
      await this.check(node.payload, `${path}.payload`);
      for (const [i, child] of (Array.isArray(node.children) ? node.children : []).entries()) {
        await walk(child, `${path}.children[${i}]`);
      }
    };
    await walk(root, 'tree');
    return super.enqueueTree(root, options);
  }

  private async checkItems(items: readonly EnqueueItem<InferInput<S>>[]): Promise<void> {
    if (!Array.isArray(items)) return; // the base class reports the shape
    for (const [i, item] of items.entries()) {
      if (item && typeof item === 'object' && 'payload' in item)
        await this.check(item.payload, `items[${i}].payload`);
    }
  }

  /**
   * Handler options typed by the schema's output, with the schema attached so the worker validates
   * each claimed payload: `queues: { emails: emails.handle({ handler: async (job) => … }) }`.
   */
  handle(config: Omit<QueueConfig<InferOutput<S>>, 'schema'>): QueueConfig<InferOutput<S>> {
    return { ...config, schema: this.schema as unknown as StandardSchemaV1<unknown, InferOutput<S>> };
  }
}

/** A typed, schema-checked handle on a queue (no I/O; create the queue with `arbiter.createQueue`). */
export function defineQueue<S extends StandardSchemaV1>(
  arbiter: Arbiter,
  name: string,
  options: { schema: S },
): SchemaQueue<S> {
  const base = arbiter.queue(name) as unknown as { ctx: QueueContext };
  if (!options || typeof options !== 'object' || !options.schema || !('~standard' in options.schema)) {
    throw new ValidationError(
      'options.schema',
      options?.schema,
      'must implement Standard Schema (~standard.validate)',
    );
  }
  return new SchemaQueue<S>(base.ctx, options.schema);
}
