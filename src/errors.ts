// Typed errors. Every error Arbiter throws on purpose is an ArbiterError with a stable `code`; anything
// else is a bug or a database failure passed through unchanged as `cause`.

/** The stable `code` of every ArbiterError, one per class (JOB_NOT_FOUND is used by the admin API). */
export type ArbiterErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_IDENTIFIER'
  | 'PAYLOAD_NOT_SERIALIZABLE'
  | 'PAYLOAD_TOO_LARGE'
  | 'QUEUE_NOT_FOUND'
  | 'PARENT_NOT_FOUND'
  | 'JOB_NOT_FOUND'
  | 'BATCH_TOO_LARGE'
  | 'SCHEMA_TOO_NEW'
  | 'OUTCOME_UNKNOWN'
  | 'SCHEMA_NOT_MIGRATED'
  | 'EMBEDDED_POSTGRES'
  | 'CRON_NOT_FOUND'
  | 'CRON_EXISTS'
  | 'QUEUE_FULL'
  | 'FLOW_CYCLE'
  | 'UNKNOWN_DEPENDENCY'
  | 'DEPENDENCY_NOT_FOUND'
  | 'FLOW_NOT_FOUND'
  | 'RESULT_NOT_FOUND'
  | 'RESULT_TIMEOUT'
  | 'JOB_FAILED'
  | 'DUPLICATE_STEP'
  | 'WAIT_TIMEOUT'
  | 'AWAITED_JOB_FAILED'
  | 'SCHEMA_IN_USE';

/**
 * Base of every error Arbiter throws on purpose: `code` says which case it is, whatever the class;
 * `cause` carries the driver's error where there was one.
 */
export class ArbiterError extends Error {
  readonly code: ArbiterErrorCode;
  constructor(code: ArbiterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArbiterError';
    this.code = code;
  }
}

/** An argument failed validation. `field` names the option, `value` is what was given. */
export class ValidationError extends ArbiterError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, problem: string, code: ArbiterErrorCode = 'INVALID_ARGUMENT') {
    super(code, `${field}: ${problem} (got ${describe(value)})`);
    this.name = 'ValidationError';
    this.field = field;
    this.value = value;
  }
}

/** A schema or queue name that is not a safe identifier. */
export class InvalidIdentifierError extends ValidationError {
  constructor(field: string, value: unknown, rule: string) {
    super(field, value, `must match ${rule}`, 'INVALID_IDENTIFIER');
    this.name = 'InvalidIdentifierError';
  }
}

/** The payload cannot be stored as JSON without losing or changing data. */
export class PayloadError extends ValidationError {
  readonly path: string;
  constructor(path: string, value: unknown, problem: string) {
    super('payload', value, `${problem} at ${path}`, 'PAYLOAD_NOT_SERIALIZABLE');
    this.name = 'PayloadError';
    this.path = path;
  }
}

/** A payload or result is larger, in bytes of JSON, than the Arbiter's `maxPayloadBytes`. */
export class PayloadTooLargeError extends ArbiterError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super('PAYLOAD_TOO_LARGE', `payload: ${size} bytes of JSON exceeds maxPayloadBytes (${limit})`);
    this.name = 'PayloadTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/** The queue named does not exist in the schema (it was never created, or was dropped). */
export class QueueNotFoundError extends ArbiterError {
  readonly queue: string;
  constructor(schema: string, queue: string, options?: { cause?: unknown }) {
    super(
      'QUEUE_NOT_FOUND',
      `queue "${queue}" does not exist in schema "${schema}" (create it with createQueue)`,
      options,
    );
    this.name = 'QueueNotFoundError';
    this.queue = queue;
  }
}

/** `parentId` names no job of this queue (it finished, was cancelled, or never existed). */
export class ParentNotFoundError extends ArbiterError {
  readonly parentId: string;
  constructor(parentId: string) {
    super('PARENT_NOT_FOUND', `parentId: job ${parentId} does not exist in this queue`);
    this.name = 'ParentNotFoundError';
    this.parentId = parentId;
  }
}

/** A call was given more items (jobs, ids, tree nodes) than it accepts at once. */
export class BatchTooLargeError extends ValidationError {
  readonly size: number;
  readonly limit: number;
  constructor(field: string, size: number, limit: number, items = 'items per call') {
    super(field, size, `at most ${limit} ${items}`, 'BATCH_TOO_LARGE');
    this.name = 'BatchTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/**
 * An enqueue with `maxQueued` found its queue (or its group) at the cap, and its overflow policy could not
 * make room (`reject`, `dropOldest` with nothing droppable, or `wait` past its timeout). Nothing was
 * written. `retryAfterMs` is a hint for when to try again.
 */
export class QueueFullError extends ArbiterError {
  readonly queue: string;
  readonly groupKey: string | null;
  readonly limit: number;
  readonly retryAfterMs: number;
  constructor(queue: string, groupKey: string | null, limit: number, retryAfterMs: number) {
    super(
      'QUEUE_FULL',
      `${groupKey === null ? `queue "${queue}"` : `group "${groupKey}" of queue "${queue}"`} already holds ${limit} waiting jobs (maxQueued)`,
    );
    this.name = 'QueueFullError';
    this.queue = queue;
    this.groupKey = groupKey;
    this.limit = limit;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The schema was migrated by a newer Arbiter than this one: upgrade pg-arbiter. */
export class SchemaTooNewError extends ArbiterError {
  constructor(schema: string, found: number, known: number) {
    super(
      'SCHEMA_TOO_NEW',
      `schema "${schema}" is at migration ${found} but this version of Arbiter knows only up to ${known}; upgrade pg-arbiter`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The connection failed while a write was being committed: it may or may not have happened.
 * Retry with the same idempotency key to make the retry safe.
 */
export class OutcomeUnknownError extends ArbiterError {
  constructor(operation: string, cause: unknown) {
    super(
      'OUTCOME_UNKNOWN',
      `${operation}: the connection failed during commit; the write may or may not have happened`,
      {
        cause,
      },
    );
    this.name = 'OutcomeUnknownError';
  }
}

/**
 * The embedded PostgreSQL (`arbiter dev`, `arbiter demo`, `startEmbeddedPostgres`) cannot start here; the
 * message says why and what to do.
 */
export class EmbeddedPostgresError extends ArbiterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_POSTGRES', message, options);
    this.name = 'EmbeddedPostgresError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return typeof value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  return 'object';
}

/**
 * Arbiter's schema is not ready for this version of Arbiter: `state` says why. `missing`: the PostgreSQL
 * schema does not exist; `not-migrated`: it exists but no migration was ever applied to it; `behind`: it
 * lacks migrations this version needs. Each is fixed by running the migrations (a schema migrated by a
 * newer version is a SchemaTooNewError).
 */
export class SchemaNotMigratedError extends ArbiterError {
  readonly schema: string;
  readonly state: 'missing' | 'not-migrated' | 'behind';
  /** The latest migration applied (0 when none). */
  readonly found: number;
  /** The latest migration this version of Arbiter ships. */
  readonly expected: number;
  constructor(schema: string, state: 'missing' | 'not-migrated' | 'behind', found: number, expected: number) {
    const problem =
      state === 'missing'
        ? `schema "${schema}" does not exist`
        : state === 'not-migrated'
          ? `schema "${schema}" has no Arbiter migrations applied`
          : `schema "${schema}" is at migration ${found} but this version of arbiter needs ${expected}`;
    super(
      'SCHEMA_NOT_MIGRATED',
      `${problem}; run \`arbiter migrate --schema ${schema}\` or call arbiter.migrate()`,
    );
    this.name = 'SchemaNotMigratedError';
    this.schema = schema;
    this.state = state;
    this.found = found;
    this.expected = expected;
  }
}

/**
 * A worker was asked to serve (or schedule cron jobs into) queues that do not exist. `queues` names every
 * one of them; the code is QUEUE_NOT_FOUND, as for a single queue.
 */
export class QueuesNotFoundError extends ArbiterError {
  readonly schema: string;
  readonly queues: readonly string[];
  constructor(schema: string, queues: readonly string[]) {
    const names = queues.map((q) => `"${q}"`).join(', ');
    super(
      'QUEUE_NOT_FOUND',
      `${queues.length === 1 ? `queue ${names} does` : `queues ${names} do`} not exist in schema "${schema}" ` +
        '(create them with createQueue, or start the worker with waitForQueues: true to wait for them)',
    );
    this.name = 'QueuesNotFoundError';
    this.schema = schema;
    this.queues = queues;
  }
}

/** No recurring schedule has this name (never added, or removed). */
export class CronScheduleNotFoundError extends ArbiterError {
  readonly schedule: string;
  constructor(name: string) {
    super('CRON_NOT_FOUND', `cron schedule "${name}" does not exist`);
    this.name = 'CronScheduleNotFoundError';
    this.schedule = name;
  }
}

/** A recurring schedule with this name exists already (from code or added at runtime). */
export class CronScheduleExistsError extends ArbiterError {
  readonly schedule: string;
  constructor(name: string) {
    super('CRON_EXISTS', `cron schedule "${name}" exists already (change it with set)`);
    this.name = 'CronScheduleExistsError';
    this.schedule = name;
  }
}

/** A flow's `dependsOn` links form a cycle: no node of it could ever run. Nothing was written. */
export class FlowCycleError extends ValidationError {
  /** The node names around the cycle, the first repeated at the end. */
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super('nodes', cycle.join(' -> '), 'dependsOn links form a cycle', 'FLOW_CYCLE');
    this.name = 'FlowCycleError';
    this.cycle = cycle;
  }
}

/** A flow node's `dependsOn` names a node the flow does not have. Nothing was written. */
export class UnknownDependencyError extends ValidationError {
  readonly node: string;
  readonly dependency: string;
  constructor(node: string, dependency: string) {
    super(`nodes.${node}.dependsOn`, dependency, 'names no node of this flow', 'UNKNOWN_DEPENDENCY');
    this.name = 'UnknownDependencyError';
    this.node = node;
    this.dependency = dependency;
  }
}

/** A handler ran two durable steps (ctx.step) of the same name in one run: step names key stored results. */
export class DuplicateStepError extends ArbiterError {
  readonly step: string;
  constructor(step: string) {
    super('DUPLICATE_STEP', `step "${step}" ran twice in one run (step names must be unique within a job)`);
    this.name = 'DuplicateStepError';
    this.step = step;
  }
}

/**
 * `dependsOn` names a job that is neither in its queue nor remembered as finished (it never existed, or it
 * finished untracked, or its record was pruned). Nothing was written.
 */
export class DependencyNotFoundError extends ArbiterError {
  readonly queue: string;
  readonly jobId: string;
  constructor(queue: string, jobId: string) {
    super(
      'DEPENDENCY_NOT_FOUND',
      `dependsOn: job ${jobId} of queue "${queue}" does not exist (nor a record of it finishing)`,
    );
    this.name = 'DependencyNotFoundError';
    this.queue = queue;
    this.jobId = jobId;
  }
}

/** No flow has this id (never created, or pruned by its retention). */
export class FlowNotFoundError extends ArbiterError {
  readonly flowId: string;
  constructor(flowId: string) {
    super('FLOW_NOT_FOUND', `flow ${flowId} does not exist`);
    this.name = 'FlowNotFoundError';
    this.flowId = flowId;
  }
}

/**
 * No result is recorded for this job: it was not enqueued with `result` (nor in a flow, nor a dependency),
 * or its record passed its retention.
 */
export class ResultNotFoundError extends ArbiterError {
  readonly queue: string;
  readonly jobId: string;
  constructor(queue: string, jobId: string) {
    super(
      'RESULT_NOT_FOUND',
      `job ${jobId} of queue "${queue}" has no recorded result (enqueue it with { result: true } to keep one)`,
    );
    this.name = 'ResultNotFoundError';
    this.queue = queue;
    this.jobId = jobId;
  }
}

/** `result({ timeoutMs })` gave up waiting: the job had not finished. It may still finish later. */
export class ResultTimeoutError extends ArbiterError {
  readonly queue: string;
  readonly jobId: string;
  readonly timeoutMs: number;
  constructor(queue: string, jobId: string, timeoutMs: number) {
    super('RESULT_TIMEOUT', `job ${jobId} of queue "${queue}" did not finish within ${timeoutMs} ms`);
    this.name = 'ResultTimeoutError';
    this.queue = queue;
    this.jobId = jobId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An awaited job ended without a result: `state` 'failed' (dead-lettered; `reason` is its last error) or
 * 'cancelled' (cancelled, or a dependency it needed failed).
 */
export class JobFailedError extends ArbiterError {
  readonly queue: string;
  readonly jobId: string;
  readonly state: 'failed' | 'cancelled';
  readonly reason: string;
  constructor(queue: string, jobId: string, state: 'failed' | 'cancelled', reason: string) {
    super('JOB_FAILED', `job ${jobId} of queue "${queue}" ${state}: ${reason}`);
    this.name = 'JobFailedError';
    this.queue = queue;
    this.jobId = jobId;
    this.state = state;
    this.reason = reason;
  }
}

/**
 * A `ctx.waitFor(event, { timeoutMs })` whose timeout passed before the event was emitted. Thrown by
 * waitFor on the run after the timeout (and on every later run of the job: the timeout is recorded like
 * a step). Uncaught, it fails the run like any error.
 */
export class WaitTimeoutError extends ArbiterError {
  readonly event: string;
  constructor(event: string) {
    super('WAIT_TIMEOUT', `timed out waiting for event "${event}"`);
    this.name = 'WaitTimeoutError';
    this.event = event;
  }
}

/** The job a handler ran with `ctx.run(queue, payload)` did not succeed: dead-lettered or cancelled (`state`). */
export class AwaitedJobFailedError extends ArbiterError {
  readonly queue: string;
  readonly jobId: string;
  readonly error: string;
  /** `failed`: dead-lettered (`error` is its last error); `cancelled`: cancelled by an operator, a flow
   * cancel or a failed dependency (`error` says which). */
  readonly state: 'failed' | 'cancelled';
  constructor(queue: string, jobId: string, error: string, state: 'failed' | 'cancelled' = 'failed') {
    super('AWAITED_JOB_FAILED', `job ${jobId} of queue "${queue}" ${state}: ${error}`);
    this.name = 'AwaitedJobFailedError';
    this.queue = queue;
    this.jobId = jobId;
    this.error = error;
    this.state = state;
  }
}

/**
 * `uninstall` refused: workers of this schema sent a heartbeat recently (`workers` names them). Stop them
 * first, or pass `force` (their claims then fail, and they stop or wait for the schema to come back).
 */
export class SchemaInUseError extends ArbiterError {
  readonly schema: string;
  readonly workers: readonly string[];
  constructor(schema: string, workers: readonly string[]) {
    super(
      'SCHEMA_IN_USE',
      `schema "${schema}" has ${workers.length} live worker(s) (${workers.slice(0, 5).join(', ')}` +
        `${workers.length > 5 ? ', ...' : ''}); stop them first, or uninstall with force`,
    );
    this.name = 'SchemaInUseError';
    this.schema = schema;
    this.workers = workers;
  }
}
