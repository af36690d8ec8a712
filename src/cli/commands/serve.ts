import type { Command } from 'commander';
import { serveAdmin } from '../../http/serve.js';
import { createMetrics } from '../../metrics/metrics.js';
import { action } from '../context.js';
import { EXIT, usageError } from '../errors.js';

interface ServeOptions {
  host: string;
  port: string;
  token?: string;
  username?: string;
  password?: string;
  readOnly?: boolean;
  insecure?: boolean;
  hideArgs?: boolean;
  publicMetrics?: boolean;
}

/** `arbiter serve`: the admin HTTP API, the dashboard and /metrics, until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the admin HTTP API, the web dashboard and Prometheus /metrics')
    .option('--host <host>', 'interface to bind (beyond loopback, credentials are required)', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8080')
    .option(
      '--token <token>',
      'bearer token required on every request (env ARBITER_TOKEN)',
      process.env.ARBITER_TOKEN,
    )
    .option('--username <name>', 'basic-auth user (env ARBITER_USERNAME)', process.env.ARBITER_USERNAME)
    .option(
      '--password <password>',
      'basic-auth password (env ARBITER_PASSWORD)',
      process.env.ARBITER_PASSWORD,
    )
    .option('--read-only', 'refuse every change (403)')
    .option('--hide-args', 'hide job payloads in dashboard lists until asked')
    .option('--public-metrics', 'serve /metrics without credentials')
    .option('--insecure', 'allow a non-loopback host without credentials (trusted networks only)')
    .action(
      action(async (ctx, opts: ServeOptions) => {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw usageError(`--port: not a port: ${opts.port}`);
        if ((opts.username === undefined) !== (opts.password === undefined)) {
          throw usageError('--username and --password go together');
        }
        const arbiter = await ctx.arbiter();
        const metrics = createMetrics({ arbiter });
        const auth =
          opts.token !== undefined
            ? { token: opts.token }
            : opts.username !== undefined
              ? { username: opts.username, password: opts.password! }
              : undefined;
        let server;
        try {
          server = await serveAdmin({
            arbiter,
            metrics,
            host: opts.host,
            port,
            readOnly: opts.readOnly === true,
            insecure: opts.insecure === true,
            publicMetrics: opts.publicMetrics === true,
            dashboard: { hideArgsByDefault: opts.hideArgs === true },
            ...(auth ? { auth } : {}),
          });
        } catch (err) {
          metrics.stop();
          if ((err as { code?: string }).code === 'INSECURE_BIND') throw usageError((err as Error).message);
          throw err;
        }
        ctx.emit(
          { url: server.url },
          () => `${ctx.c.green('serving')} ${server.url}/  (dashboard, API, /openapi.json, /metrics)`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
        metrics.stop();
        return EXIT.ok;
      }),
    );
}
