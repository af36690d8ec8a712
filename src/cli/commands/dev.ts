import type { Command } from 'commander';
import { Arbiter } from '../../client/arbiter.js';
import { serveAdmin } from '../../http/serve.js';
import { untilSignal } from './listen.js';
import { createMetrics } from '../../metrics/metrics.js';
import { startEmbeddedPostgres } from '../../testing/embedded.js';
import { action } from '../context.js';
import { EXIT, usageError } from '../errors.js';

interface DevOptions {
  port: string;
  dbPort: string;
  data?: string;
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`${flag}: not a port: ${value}`);
  return n;
}

/**
 * `arbiter dev`: a database for local development. Starts an embedded PostgreSQL, migrates the schema,
 * serves the dashboard and the admin API, and prints the connection string for the app and the CLI, until
 * SIGINT/SIGTERM. It never uses DATABASE_URL: that is where the app finds the database this prints.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description(
      'local development: an embedded PostgreSQL, migrated, with the dashboard; prints its DATABASE_URL',
    )
    .option('--port <n>', 'HTTP port of the dashboard and admin API (0 = any free port)', '4680')
    .option('--db-port <n>', 'PostgreSQL port (0 = any free port)', '5433')
    .option('--data <dir>', 'keep the database in this folder across runs (default: removed on exit)')
    .action(
      action(async (ctx, opts: DevOptions) => {
        if (program.getOptionValueSource('databaseUrl') === 'cli') {
          throw usageError(
            '`arbiter dev` starts its own database and takes no --database-url',
            'for a database of your own, `arbiter migrate` and `arbiter serve` do the same',
          );
        }
        const httpPort = port('--port', opts.port);
        const dbPort = port('--db-port', opts.dbPort);
        if (!ctx.json) process.stderr.write(ctx.c.dim('starting an embedded PostgreSQL…\n'));
        const db = await startEmbeddedPostgres({
          port: dbPort,
          ...(opts.data === undefined ? {} : { dataDir: opts.data }),
        });
        const arbiter = new Arbiter({ connectionString: db.connectionString, schema: ctx.schema });
        let metrics: ReturnType<typeof createMetrics> | undefined;
        let server;
        try {
          await arbiter.migrate();
          metrics = createMetrics({ arbiter });
          server = await serveAdmin({ arbiter, metrics, dashboard: true, host: '127.0.0.1', port: httpPort });
          const url = server.url;
          // Listening for the signals before saying the database runs: a reader may stop us at once.
          const stop = untilSignal();
          ctx.emit(
            { databaseUrl: db.connectionString, schema: ctx.schema, url, dataDir: opts.data ?? null },
            () =>
              [
                ctx.c.green('Arbiter dev database is running.'),
                `  DATABASE_URL  ${db.connectionString}`,
                `  schema        ${ctx.schema} (migrated)`,
                `  dashboard     ${url}/`,
                `  data          ${opts.data ?? 'temporary, removed on exit'}`,
                '',
                'In another shell, for your app and the CLI:',
                `  export DATABASE_URL=${db.connectionString}`,
                ctx.c.dim('Ctrl-C stops the dashboard and the database.'),
              ].join('\n'),
          );
          await stop;
        } finally {
          await server?.close();
          metrics?.stop();
          await arbiter.close();
          await db.stop();
        }
        return EXIT.ok;
      }),
    );
}
