export { Arbiter, type ArbiterOptions, type EnqueuedEvent } from './client/arbiter.js';
export { Queue, type EnqueueCallOptions, type EnqueueItem, DEFAULT_LEASE_MS } from './client/queue.js';
export { MAX_ERROR_LENGTH } from './core/fence.js';
export type { TreeNode, InsertedTree } from './client/tree.js';
export type { JobsAdmin } from './admin/jobs.js';
export type { DeadLetters } from './admin/dead-letters.js';
export type {
  DeadLettersAcrossQueues,
  DeadLetterSelection,
  ListDeadLettersAcrossOptions,
  RetryMatchingOptions,
  RetryMatchingResult,
} from './admin/dead-letters-across.js';
export type { GroupInfo, GroupJobRef, GroupState } from './admin/groups.js';
export type { JobExplanation, WhyCode, WhyReason } from './admin/why.js';
export type { Results } from './client/results.js';
export { mergeChildOutcomes } from './core/child-results.js';
export type { QueueInfo } from './db/queries/queue.js';
export { DEFAULT_RETENTION, type Retention, type RetentionPatch } from './core/retention.js';
export type { Executor, QueryResult } from './db/executor.js';
export { PoolExecutor, ClientExecutor, toExecutor, type ExecutorSource } from './db/pg-executor.js';
export { migrate, pendingMigrationSql, loadMigrations, type MigrateResult } from './db/migrate.js';
export * from './errors.js';
export * from './types.js';
export { JOB_STATUSES } from './types.js';
export * from './worker/index.js';
