import {
  ArbiterError,
  QueueFullError,
  QueueNotFoundError,
  ValidationError,
  type ArbiterErrorCode,
} from '../errors.js';

/** Error codes only the HTTP layer produces (in addition to ArbiterErrorCode). */
export type HttpErrorCode =
  | 'UNAUTHORIZED'
  | 'RATE_LIMITED'
  | 'READ_ONLY'
  | 'CROSS_SITE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MISSING_CONTENT_TYPE'
  | 'BODY_TOO_LARGE'
  | 'INVALID_JSON'
  | 'NOT_FOUND'
  | 'EVENT_NOT_FOUND'
  | 'CONFLICT'
  | 'LEASE_LOST'
  | 'INTERNAL';

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

/** The JSON every error response carries. `field` names the offending parameter when there is one. */
export interface ErrorBody {
  error: { code: HttpErrorCode | ArbiterErrorCode; message: string; field?: string };
}

/** An error meant to reach the client as is. */
export class HttpError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: HttpErrorCode | ArbiterErrorCode,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The one place ArbiterError codes become HTTP statuses. */
const STATUS_BY_CODE: Record<ArbiterErrorCode, ErrorStatus> = {
  INVALID_ARGUMENT: 400,
  INVALID_IDENTIFIER: 400,
  PAYLOAD_NOT_SERIALIZABLE: 400,
  BATCH_TOO_LARGE: 400,
  PAYLOAD_TOO_LARGE: 413,
  QUEUE_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  // The parent is named in the request body: the request is well-formed but refers to nothing.
  PARENT_NOT_FOUND: 422,
  SCHEMA_TOO_NEW: 503,
  SCHEMA_NOT_MIGRATED: 503,
  // The write may or may not have happened: retrying (with an idempotency key) is the client's call.
  OUTCOME_UNKNOWN: 503,
  // Raised only by the embedded development server, never by an operation the API exposes.
  EMBEDDED_POSTGRES: 500,
  CRON_NOT_FOUND: 404,
  CRON_EXISTS: 409,
  // maxQueued: the queue is full; Retry-After says when to try again.
  QUEUE_FULL: 429,
  FLOW_CYCLE: 400,
  UNKNOWN_DEPENDENCY: 400,
  // The job named in the body does not exist: well-formed, but it refers to nothing.
  DEPENDENCY_NOT_FOUND: 422,
  FLOW_NOT_FOUND: 404,
  RESULT_NOT_FOUND: 404,
  // Only the library's result() waits; the API answers at once.
  RESULT_TIMEOUT: 503,
  JOB_FAILED: 409,
  // Raised inside handlers only (durable steps), never by an operation the API exposes.
  DUPLICATE_STEP: 500,
  WAIT_TIMEOUT: 500,
  AWAITED_JOB_FAILED: 500,
  // Raised only by uninstall, which the API does not expose.
  SCHEMA_IN_USE: 409,
};

/**
 * HTTP-facing field names: the library names fields after its own call shape (`options.filter.status`),
 * the client sent a query parameter or body key (`status`).
 */
function publicField(field: string): string {
  return field.replace(/^(options\.filter\.|options\.|filter\.|page\.)/, '');
}

export interface ErrorLogger {
  error(message: string, details?: Record<string, unknown>): void;
}

/**
 * Turns anything thrown into a status and body. Only HttpError and ArbiterError messages are shown:
 * those are written by us and name the field and value. Everything else (pg errors carry SQL, detail,
 * hints; stacks carry paths) is logged and replaced by a generic INTERNAL body.
 */
export function toErrorResponse(
  err: unknown,
  logger: ErrorLogger,
  context: { method: string; path: string },
): { status: ErrorStatus; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof HttpError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.field !== undefined) body.error.field = err.field;
    return { status: err.status, body, headers: err.headers };
  }
  if (err instanceof ArbiterError && err.code in STATUS_BY_CODE) {
    const status = STATUS_BY_CODE[err.code];
    if (status >= 500) logger.error('arbiter http: request failed', { ...context, error: err });
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    // The library's message names its own calls (createQueue); the API's names its route.
    if (err instanceof QueueNotFoundError) {
      body.error.message = `queue "${err.queue}" does not exist (POST /queues creates it)`;
    }
    if (err instanceof ValidationError) {
      const field = publicField(err.field);
      body.error.field = field;
      body.error.message = err.message.replace(err.field, field);
    }
    const headers: Record<string, string> = {};
    if (err instanceof QueueFullError)
      headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    return { status, body, headers };
  }
  logger.error('arbiter http: internal error', { ...context, error: err });
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'internal error (details are in the server log)' } },
    headers: {},
  };
}

export const badRequest = (field: string, message: string): HttpError =>
  new HttpError(400, 'INVALID_ARGUMENT', `${field}: ${message}`, field);

export const notFound = (
  code: 'JOB_NOT_FOUND' | 'QUEUE_NOT_FOUND' | 'NOT_FOUND' | 'EVENT_NOT_FOUND',
  message: string,
): HttpError => new HttpError(404, code, message);
