/**
 * Typed errors. Every error Arbiter throws on purpose is an ArbiterError with a stable `code`;
 * anything else is a bug or a database failure passed through unchanged as `cause`.
 */
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
  | 'EMBEDDED_POSTGRES';

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

export class ParentNotFoundError extends ArbiterError {
  readonly parentId: string;
  constructor(parentId: string) {
    super('PARENT_NOT_FOUND', `parentId: job ${parentId} does not exist in this queue`);
    this.name = 'ParentNotFoundError';
    this.parentId = parentId;
  }
}

export class BatchTooLargeError extends ValidationError {
  constructor(field: string, size: number, limit: number) {
    super(field, size, `at most ${limit} items per call`, 'BATCH_TOO_LARGE');
    this.name = 'BatchTooLargeError';
  }
}

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
