import { ArbiterError, QueuesNotFoundError, ValidationError } from '../errors.js';
import { isConnectionError } from '../core/connection-errors.js';
import { cliValidationMessage } from './flags.js';

/** Exit codes of the `arbiter` command (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The operation failed, or a check (doctor) found a problem. */
  failure: 1,
  /** Bad arguments: unknown option, malformed value, missing confirmation. */
  usage: 2,
  /** The queue, job or dead letter does not exist. */
  notFound: 3,
  /** The database cannot be reached (refused, timed out, authentication, unknown database). */
  cannotConnect: 4,
  /** The schema is missing, not migrated, or migrated by a newer Arbiter: run `migrate`, or upgrade. */
  schemaNotReady: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as is: a message, an exit code, and optionally what to do next. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, EXIT.usage, hint, 'USAGE');
}

export function notFound(message: string, hint?: string): CliError {
  return new CliError(message, EXIT.notFound, hint, 'NOT_FOUND');
}

// Connection-level PostgreSQL and network failures: nothing ran, the database is not reachable as given.
const CONNECT_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNREFUSED',
  'ETIMEDOUT',
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification
  '3D000', // invalid_catalog_name: the database does not exist
]);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  // Node reports a failed multi-address connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors)) return errorCode(e.errors[0]);
  return undefined;
}

export interface ReportedError {
  exitCode: ExitCode;
  code: string;
  message: string;
  hint?: string;
}

/** Maps anything thrown by a command to what the user sees. Never a stack trace, never SQL text. */
export function describeError(err: unknown): ReportedError {
  if (err instanceof CliError) {
    return { exitCode: err.exitCode, code: err.code, message: err.message, ...hint(err.hint) };
  }
  if (err instanceof ValidationError) {
    return { exitCode: EXIT.usage, code: err.code, message: cliValidationMessage(err) };
  }
  if (err instanceof ArbiterError) {
    switch (err.code) {
      case 'PAYLOAD_TOO_LARGE':
        return { exitCode: EXIT.usage, code: err.code, message: err.message };
      case 'SCHEMA_NOT_MIGRATED':
      case 'SCHEMA_TOO_NEW':
        return { exitCode: EXIT.schemaNotReady, code: err.code, message: err.message };
      case 'QUEUE_NOT_FOUND':
        if (err instanceof QueuesNotFoundError) {
          const names = err.queues.join(', ');
          return {
            exitCode: EXIT.notFound,
            code: err.code,
            message: `queues not found in schema "${err.schema}": ${names}`,
            hint: 'create them with `arbiter queue create <name>`, or run the worker with --wait-for-queues',
          };
        }
        return {
          exitCode: EXIT.notFound,
          code: err.code,
          message: err.message.replace('(create it with createQueue)', '').trim(),
          hint: 'create it with `arbiter queue create <name>`; list queues with `arbiter queue list`',
        };
      case 'PARENT_NOT_FOUND':
      case 'JOB_NOT_FOUND':
      case 'FLOW_NOT_FOUND':
      case 'DEPENDENCY_NOT_FOUND':
        return { exitCode: EXIT.notFound, code: err.code, message: err.message };
      case 'RESULT_NOT_FOUND':
        return {
          exitCode: EXIT.notFound,
          code: err.code,
          message: err.message.replace(/ \(enqueue it with .*\)$/, ''),
          hint: 'only jobs enqueued with --result (or flow nodes, or dependencies) keep their result',
        };
      case 'CRON_NOT_FOUND':
        return {
          exitCode: EXIT.notFound,
          code: err.code,
          message: err.message,
          hint: 'list schedules with `arbiter cron list`',
        };
      default:
        return { exitCode: EXIT.failure, code: err.code, message: err.message };
    }
  }
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if ((code !== undefined && CONNECT_CODES.has(code)) || isConnectionError(err)) {
    return {
      exitCode: EXIT.cannotConnect,
      code: 'CANNOT_CONNECT',
      message: `cannot connect to the database: ${message || code}`,
      hint: 'check --database-url (or DATABASE_URL) and that PostgreSQL is running',
    };
  }
  // undefined_table, invalid_schema_name, undefined_function (_create_queue missing) outside the calls
  // that check the schema themselves
  if (code === '42P01' || code === '3F000' || code === '42883') {
    return {
      exitCode: EXIT.schemaNotReady,
      code: 'SCHEMA_NOT_MIGRATED',
      message: 'the Arbiter schema is missing or not migrated',
      hint: 'run `arbiter migrate` (and check --schema)',
    };
  }
  return { exitCode: EXIT.failure, code: code ?? 'INTERNAL', message: `unexpected error: ${message}` };
}

function hint(h: string | undefined): { hint?: string } {
  return h === undefined ? {} : { hint: h };
}

/** A job that is not in its queue (it finished, was cancelled or dead-lettered, or never existed). */
export function jobNotFound(queue: string, id: string): CliError {
  return notFound(
    `job ${id} not found in queue "${queue}"`,
    'finished, cancelled and dead-lettered jobs leave the queue; see `arbiter dlq list ' + queue + '`',
  );
}
