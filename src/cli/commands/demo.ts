import type { Command } from 'commander';
import { Arbiter } from '../../client/arbiter.js';
import type { Queue } from '../../client/queue.js';
import { serveAdmin } from '../../http/serve.js';
import { createMetrics } from '../../metrics/metrics.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../testing/embedded.js';
import { createWorker } from '../../worker/worker.js';
import type { GlobalOptions } from '../context.js';
import { colors, wantColor } from '../output.js';

interface Email {
  to: string;
  subject: string;
}
interface Report {
  section: string;
}
interface Flaky {
  n: number;
  alwaysFail?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The project's main job: a realistic queue to look at. Starts an embedded PostgreSQL unless a database is
 * given, creates three queues, enqueues a mix (FIFO groups, a job tree with a rollup finalizer, delayed
 * jobs, failures that retry and some that end in the dead-letter table), runs a worker, serves the admin
 * API with /metrics, and keeps a trickle of new work coming until Ctrl-C, which stops everything.
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
      let embedded: EmbeddedDatabase | undefined;
      let url = global.databaseUrl || undefined;
      if (!url) {
        say(c.dim('starting an embedded PostgreSQL…'));
        embedded = await startEmbeddedPostgres();
        url = embedded.connectionString;
      }
      const arbiter = new Arbiter({ connectionString: url, schema: global.schema ?? 'arbiter' });
      const stop = new AbortController();
      const cleanup: (() => Promise<unknown>)[] = [];
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await arbiter.migrate();
        const emails = await arbiter.createQueue<Email>('emails');
        const reports = await arbiter.createQueue<Report>('reports');
        const flaky = await arbiter.createQueue<Flaky>('flaky');
        await seed(emails, reports, flaky);

        const worker = createWorker<{ emails: Email; reports: Report; flaky: Flaky }>({
          arbiter,
          concurrency: 8,
          handleSignals: false,
          pollIntervalMs: 500,
          queues: {
            emails: { handler: async (_job, ctx) => sleep(30 + Math.random() * 150, ctx.signal) },
            reports: {
              handler: async (job, ctx) => {
                await sleep(50 + Math.random() * 100, ctx.signal);
                if (ctx.children.size > 0) {
                  const ok = [...ctx.children.values()].filter((o) => o.ok).length;
                  return ctx.done({ sections: ctx.children.size, ok, failed: ctx.children.size - ok });
                }
                if (job.payload.section === 'broken') throw new Error('section source unavailable');
                return ctx.done({ section: job.payload.section, words: Math.round(Math.random() * 1000) });
              },
              maxAttempts: 2,
              backoff: { type: 'linear', delayMs: 1_000 },
            },
            flaky: {
              handler: async (job, ctx) => {
                await sleep(20 + Math.random() * 60, ctx.signal);
                if (job.payload.alwaysFail) throw new Error(`upstream rejected request ${job.payload.n}`);
                if (job.attempts === 1 && Math.random() < 0.3) throw new Error('connection reset by peer');
              },
              backoff: { type: 'exponential', baseMs: 500, factor: 2, maxMs: 5_000 },
            },
          },
        });
        const metrics = createMetrics({ arbiter, intervalMs: 2_000 });
        metrics.attach(worker);
        cleanup.push(async () => metrics.stop());
        await worker.start();
        cleanup.unshift(() => worker.stop({ timeoutMs: 3_000 }));
        const server = await serveAdmin({
          arbiter,
          metrics,
          dashboard: true,
          host: '127.0.0.1',
          port: Number(opts.port),
        });
        cleanup.unshift(() => server.close());

        say(c.green(`\nArbiter demo is running.`));
        say(`  dashboard   ${server.url}/`);
        say(`  admin API   ${server.url}/queues`);
        say(`  OpenAPI     ${server.url}/openapi.json`);
        say(`  metrics     ${server.url}/metrics`);
        say(
          `  database    ${url.replace(/:[^:@/]*@/, ':***@')}${embedded ? ' (embedded, removed on exit)' : ''}`,
        );
        say(c.dim('  Ctrl-C stops the worker, the server and the database.\n'));

        if (opts.duration) setTimeout(() => stop.abort(), Number(opts.duration) * 1000).unref();
        let tick = 0;
        while (!stop.signal.aborted) {
          await sleep(1_000, stop.signal);
          if (stop.signal.aborted) break;
          tick++;
          await emails.enqueue(
            { to: `user${tick % 7}@example.com`, subject: `update #${tick}` },
            { groupKey: `customer-${tick % 7}` },
          );
          if (tick % 3 === 0)
            await flaky.enqueue({ n: 1000 + tick, alwaysFail: tick % 15 === 0 }, { maxAttempts: 3 });
          if (tick % 10 === 0) {
            const s = await emails.jobs.stats();
            say(
              c.dim(
                `[${new Date().toISOString().slice(11, 19)}] emails: ${s.ready} ready, ${s.inFlight} in flight, ${s.scheduled} scheduled; flaky dead letters: ${await flaky.dlq.count()}`,
              ),
            );
          }
        }
        say(c.dim('\nstopping…'));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        for (const fn of cleanup) await fn().catch(() => undefined);
        await arbiter.close();
        await embedded?.stop();
      }
      say('demo stopped; nothing left running.');
    });
}

async function seed(emails: Queue<Email>, reports: Queue<Report>, flaky: Queue<Flaky>): Promise<void> {
  // Per-customer FIFO: each customer's emails go out one at a time, in order.
  const subjects = ['Welcome', 'Order placed', 'Payment received', 'Order shipped', 'Delivered'];
  await emails.enqueueMany(
    Array.from({ length: 40 }, (_, i) => ({
      payload: { to: `customer${i % 8}@example.com`, subject: subjects[Math.floor(i / 8)]! },
      groupKey: `customer-${i % 8}`,
    })),
  );
  // Scheduled for later: visible in the dashboard as "scheduled" until their time comes.
  await emails.enqueueMany(
    Array.from({ length: 10 }, (_, i) => ({
      payload: { to: `later${i}@example.com`, subject: 'Reminder' },
      delayMs: 10_000 + i * 5_000,
    })),
  );
  // A job tree: the finalizer runs after its sections and sees their results and failures.
  await reports.enqueueTree({
    payload: { section: 'daily report' },
    rollup: true,
    children: ['sales', 'signups', 'churn', 'broken', 'support'].map((section) => ({ payload: { section } })),
  });
  // Failures: some retry and succeed, a few always fail and land in the dead-letter table.
  await flaky.enqueueMany(
    Array.from({ length: 30 }, (_, n) => ({ payload: { n, alwaysFail: n % 10 === 0 }, maxAttempts: 3 })),
  );
}
