// What an application needs to enqueue, inspect and operate jobs: the Arbiter, its queue handles, the
// types their calls take and return, and the errors they throw. The worker runtime is
// `pg-arbiter/worker`; the admin API `pg-arbiter/http`; metrics, tracing and test helpers have entry
// points of their own.

export { Arbiter, type ArbiterOptions } from './client/arbiter.js';
export { Queue, type EnqueueItem, type EnqueueReturn } from './client/queue.js';
export type { AwaitableJob, JobResult } from './client/awaitable.js';
export type {
  Flows,
  FlowDefinition,
  FlowHandle,
  FlowInfo,
  FlowNode,
  FlowNodeOptions,
  FlowNodeState,
  FlowNodes,
  FlowSummary,
  DependencyOutcome,
  NodeResult,
} from './client/flows.js';
export type { DependencyFailurePolicy, TrackedState } from './core/tracking.js';
export type { TreeNode, InsertedTree } from './client/tree.js';
export type { GroupInfo } from './client/groups.js';
export type { CronSchedules, CronScheduleInfo, CronScheduleInput, CronSchedulePatch } from './client/cron.js';
export type { JobExplanation } from './client/why.js';
export type { QueueInfo } from './db/queries/queue.js';
export type { Retention, RetentionPatch } from './core/retention.js';
export type { QueueLimits, QueueLimitsPatch, RateLimit } from './core/flow-limits.js';
export type { WorkerInfo } from './db/queries/worker.js';
export type { WorkerSnapshot } from './worker/snapshot.js';
export type { StatsHistory, StatsHistoryBucket, StatsHistoryOptions } from './client/queue-history.js';
export type { SearchHit, SearchOptions, SearchResult } from './client/search.js';
export type { Executor } from './db/executor.js';
export type { UninstallOptions, UninstallProgress, UninstallResult } from './db/uninstall.js';
export type { MigrateOptions, MigrateResult } from './db/migrate.js';
export type { ExecutorSource } from './db/pg-executor.js';
export {
  JOB_STATUSES,
  type ChildOutcome,
  type ClaimOptions,
  type DeadJob,
  type DeadJobFilter,
  type EnqueueOptions,
  type EnqueueOutcome,
  type UniqueOptions,
  type UniqueHoldOn,
  type DebounceOptions,
  type ThrottleOptions,
  type MaxQueuedOptions,
  type OverflowPolicy,
  type Job,
  type JobFilter,
  type JobAttempt,
  type JobId,
  type JobLogLine,
  type JobRef,
  type JobReport,
  type JobStatus,
  type JobStep,
  type JobWait,
  type EventInfo,
  type LeaseUpdate,
  type Page,
  type PageOptions,
  type QueueStats,
} from './types.js';
export {
  ArbiterError,
  type ArbiterErrorCode,
  BatchTooLargeError,
  CronScheduleExistsError,
  CronScheduleNotFoundError,
  DependencyNotFoundError,
  FlowCycleError,
  FlowNotFoundError,
  DuplicateStepError,
  AwaitedJobFailedError,
  WaitTimeoutError,
  InvalidIdentifierError,
  JobFailedError,
  OutcomeUnknownError,
  ParentNotFoundError,
  PayloadError,
  PayloadTooLargeError,
  QueueFullError,
  QueueNotFoundError,
  QueuesNotFoundError,
  ResultNotFoundError,
  ResultTimeoutError,
  SchemaNotMigratedError,
  SchemaInUseError,
  SchemaTooNewError,
  UnknownDependencyError,
  ValidationError,
} from './errors.js';
export type { EmitOptions } from './client/events.js';
