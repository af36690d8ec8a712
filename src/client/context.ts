import type { Executor } from '../db/executor.js';
import type { SchemaCheck } from '../db/schema-check.js';
import type { QueueTables } from '../db/sql.js';
import type { ResultWaiter } from './result-waiter.js';

/** What every facet of a queue handle shares: where to send SQL, which tables, and resolved limits. */
export interface QueueContext {
  readonly db: Executor;
  readonly t: QueueTables;
  readonly name: string;
  readonly maxPayloadBytes: number;
  /** Reports jobs inserted (the Arbiter's enqueue event stream). */
  readonly enqueued?: (queue: string, count: number) => void;
  /** The Arbiter's check that its schema is at this version's migration (see withTranslation). */
  readonly schemaCheck?: SchemaCheck;
  /** The Arbiter's waiter for tracked jobs' ends (awaited results), created on first use. */
  readonly waiter?: () => ResultWaiter;
}
