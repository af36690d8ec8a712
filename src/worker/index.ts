export { Worker, createWorker } from './worker.js';
export type { WorkerOptions, CronSchedule } from './options.js';
export type { QueueConfig, JobContext, BatchContext, BatchResult, ErrorInfo } from './queue-options.js';
export { WorkerEventEmitter, type WorkerEvents, type WorkerEventName } from './events.js';
export { JobAbortError, type AbortReason } from './runner.js';
export { SchemaQueue, defineQueue } from './define-queue.js';
export { outcomes, isOutcome, describeError, type Outcome } from '../core/outcome.js';
export {
  backoffDelay,
  DEFAULT_BACKOFF,
  DEFAULT_BACKOFF_MAX_MS,
  type BackoffOptions,
} from '../core/backoff.js';
export type { StandardSchemaV1, InferInput, InferOutput } from '../core/standard-schema.js';
export { notifyChannel } from '../db/queries/notify.js';
