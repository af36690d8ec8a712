import { Option, type Command } from 'commander';
import { isLoopback, serveAdmin } from '../../http/serve.js';
import { createMetrics } from '../../metrics/metrics.js';
import { action } from '../context.js';
import { EXIT, usageError } from '../errors.js';
import { colors, wantColor } from '../output.js';
import { listenError, untilSignal } from './listen.js';

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

/** What the admin API would otherwise refuse with a ValidationError naming its own options: checked as flags. */
function credentials(o: ServeOptions) {
  if (o.token !== undefined) {
    if (o.token.length < 8) throw usageError('--token: must be at least 8 characters (ARBITER_TOKEN too)');
    return { token: o.token };
  }
  if ((o.username === undefined) !== (o.password === undefined)) {
    throw usageError('--username and --password go together (ARBITER_USERNAME, ARBITER_PASSWORD)');
  }
  if (o.username === undefined) return undefined;
  if (o.username === '' || o.username.includes(':')) {
    throw usageError('--username: must be non-empty and contain no colon');
  }
  if (o.password === '') throw usageError('--password: must be non-empty');
  return { username: o.username, password: o.password! };
}

/** `arbiter serve`: the admin HTTP API, the dashboard and /metrics, until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the admin HTTP API, the web dashboard and Prometheus /metrics')
    .option('--host <host>', 'interface to bind (beyond loopback, credentials are required)', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8080')
    // From the environment rather than the command line, where `ps` would show them to every user.
    .addOption(new Option('--token <token>', 'bearer token required on every request').env('ARBITER_TOKEN'))
    .addOption(new Option('--username <name>', 'basic-auth user').env('ARBITER_USERNAME'))
    .addOption(new Option('--password <password>', 'basic-auth password').env('ARBITER_PASSWORD'))
    .option('--read-only', 'refuse every change (403)')
    .option('--hide-args', 'hide job payloads in dashboard lists until asked')
    .option('--public-metrics', 'serve /metrics without credentials')
    .option('--insecure', 'allow a non-loopback host without credentials (trusted networks only)')
    .action(
      action(async (ctx, opts: ServeOptions) => {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw usageError(`--port: not a port: ${opts.port}`);
        const auth = credentials(opts);
        const open = !isLoopback(opts.host) && auth === undefined;
        if (open && opts.insecure !== true) {
          throw usageError(
            `refusing to serve the admin API on ${opts.host} without credentials`,
            'pass --token <token> (or set ARBITER_TOKEN), or --username and --password; or bind to ' +
              'loopback with --host 127.0.0.1; or, on a trusted network only, pass --insecure',
          );
        }
        if (open) {
          const c = colors(wantColor(false, process.stderr));
          process.stderr.write(
            c.bold(c.red(`WARNING: the admin API on ${opts.host} has NO credentials (--insecure).`)) +
              `\n${c.red('Anyone who can reach this port can read payloads, retry, cancel and delete jobs, and drop queues.')}` +
              '\nUse --token (or ARBITER_TOKEN) unless this network is trusted.\n',
          );
        }
        const arbiter = await ctx.arbiter();
        const metrics = createMetrics({ arbiter });
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
          throw listenError(err, opts.host, port) ?? err;
        }
        // Listening for the signals before saying "serving": whoever reads that line may stop us at once.
        const stop = untilSignal();
        ctx.emit(
          { url: server.url },
          () => `${ctx.c.green('serving')} ${server.url}/  (dashboard, API, /openapi.json, /metrics)`,
        );
        await stop;
        await server.close();
        metrics.stop();
        return EXIT.ok;
      }),
    );
}
