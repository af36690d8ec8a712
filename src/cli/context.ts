import type { Command } from 'commander';
import { Arbiter } from '../client/arbiter.js';
import type { Queue } from '../client/queue.js';
import { CliError, EXIT, usageError, type ExitCode } from './errors.js';
import { colors, wantColor, type Colors } from './output.js';

/** How long the first round trip may take before the CLI gives up with exit code 4. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface GlobalOptions {
  json?: boolean;
  databaseUrl?: string;
  schema?: string;
}

/** What every command gets: output helpers and a lazily connected Arbiter. */
export class CliContext {
  readonly json: boolean;
  readonly c: Colors;
  readonly schema: string;
  private readonly databaseUrl: string | undefined;
  private client: Arbiter | undefined;

  constructor(options: GlobalOptions) {
    this.json = options.json === true;
    this.c = colors(wantColor(this.json));
    this.schema = options.schema ?? 'arbiter';
    this.databaseUrl = options.databaseUrl === '' ? undefined : options.databaseUrl;
  }

  /** Connects on first use (one `SELECT 1`, bounded by a timeout) so connection failures surface as exit 4. */
  async arbiter(): Promise<Arbiter> {
    if (this.client) return this.client;
    if (this.databaseUrl === undefined) {
      throw usageError(
        'no database given: set DATABASE_URL or pass --database-url postgres://user:pass@host:5432/db',
        '`arbiter dev` starts a local database for development (`arbiter demo`: one with sample queues)',
      );
    }
    // Checked here so the error never echoes the URL (it may hold a password).
    if (!/^postgres(ql)?:\/\//.test(this.databaseUrl)) {
      throw usageError('--database-url: must be a postgres:// or postgresql:// URL');
    }
    const arbiter = new Arbiter({ connectionString: this.databaseUrl, schema: this.schema, poolSize: 8 });
    this.client = arbiter;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new CliError(
              `cannot connect to the database: no answer within ${CONNECT_TIMEOUT_MS / 1000}s`,
              EXIT.cannotConnect,
              'check --database-url (or DATABASE_URL) and that PostgreSQL is reachable',
              'CANNOT_CONNECT',
            ),
          ),
        CONNECT_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([arbiter.db.query('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return arbiter;
  }

  async queue(name: string): Promise<Queue> {
    return (await this.arbiter()).queue(name);
  }

  /** Machine output (the one JSON document of --json) or human text, on stdout. */
  emit(data: unknown, human: () => string): void {
    if (this.json) process.stdout.write(JSON.stringify(data, jsonReplacer, 2) + '\n');
    else {
      const text = human();
      if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Ends the pool; gives up after a second (a connection attempt to a silent host can hang for minutes). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await Promise.race([
      client.close().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Wraps a command action: builds the context from the global options, runs it, closes the pool, and sets
 * the exit code the action returns (errors propagate to main, which reports them).
 */
export function action<A extends unknown[]>(
  fn: (ctx: CliContext, ...args: A) => Promise<ExitCode | void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>());
    try {
      const code = await fn(ctx, ...(args.slice(0, -1) as A));
      if (code !== undefined) process.exitCode = code;
    } finally {
      await ctx.close();
    }
  };
}
