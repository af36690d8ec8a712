import type { Executor } from '../db/executor.js';
import type { EnqueueOptions } from '../types.js';
import type { JobStore } from './job-store.js';

/**
 * What the worker runtime needs from an Arbiter: its database, schema and payload limit, the schema
 * check, the queue registry and a job store per queue. An Arbiter is one; the worker holds nothing else
 * of the client, so the walk from a claim to its ack stays inside worker → store → db.
 */
export interface StoreHost {
  readonly db: Executor;
  readonly schema: string;
  readonly maxPayloadBytes: number;
  /** Rejects with SchemaNotMigratedError or SchemaTooNewError unless the schema is at this version. */
  checkSchema(): Promise<void>;
  /** The queues that exist, by name. */
  listQueues(): Promise<readonly { name: string }[]>;
  /** The trusted operations on one queue's jobs. */
  store(name: string): JobStore;
  /**
   * Enqueues on queue `name` as its handle's `enqueue` does (every option, check and typed error); the
   * job's id, or null when an enqueue control inserted nothing. For ctx.run.
   */
  enqueueOn(name: string, payload: unknown, options: EnqueueOptions & { tx: Executor }): Promise<string | null>;
}
