import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { createWorker } from '../../worker/worker.js';
import type { WorkerOptions } from '../../worker/options.js';
import { action } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';

/** What a handler module exports: the `queues` map of createWorker, and optionally `cron` and `concurrency`. */
interface HandlerModule {
  queues?: WorkerOptions['queues'];
  cron?: WorkerOptions['cron'];
  concurrency?: number;
  default?: Partial<HandlerModule>;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the handlers exported by a module (export const queues = { name: { handler } })')
    .argument('<module>', 'path of an ES module exporting `queues` (and optionally `cron`, `concurrency`)')
    .option('--concurrency <n>', 'jobs running at once (default: the module’s, else 10)')
    .option('--poll-only', 'no LISTEN/NOTIFY (e.g. behind PgBouncer in transaction mode)')
    .option('--wait-for-queues', 'start even if queues do not exist yet; serve each once it is created')
    .action(
      action(
        async (
          ctx,
          modulePath: string,
          opts: { concurrency?: string; pollOnly?: boolean; waitForQueues?: boolean },
        ) => {
          const mod = await loadModule(modulePath);
          const exported = { ...(mod.default ?? {}), ...mod };
          if (!exported.queues || typeof exported.queues !== 'object') {
            throw usageError(
              `${modulePath} exports no \`queues\` object`,
              'export const queues = { emails: { handler } }',
            );
          }
          const concurrency =
            opts.concurrency === undefined ? exported.concurrency : Number(opts.concurrency);
          const arbiter = await ctx.arbiter();
          const worker = createWorker({
            arbiter,
            queues: exported.queues,
            ...(exported.cron ? { cron: exported.cron } : {}),
            ...(concurrency !== undefined ? { concurrency } : {}),
            ...(opts.pollOnly ? { listen: false } : {}),
            ...(opts.waitForQueues ? { waitForQueues: true } : {}),
          });
          worker.on('worker:queues-missing', (e) =>
            console.error(`waiting for queues to be created: ${e.queues.join(', ')}`),
          );
          worker.on('worker:queue-appeared', (e) => console.error(`queue ${e.queue} created; serving it`));
          worker.on('error', (e) =>
            console.error(`worker error: ${e.error instanceof Error ? e.error.message : String(e.error)}`),
          );
          await worker.start();
          if (!ctx.json)
            console.error(ctx.c.green(`worker ${worker.id} running; Ctrl-C stops it gracefully`));
          await worker.wait();
          return EXIT.ok;
        },
      ),
    );
}

/**
 * Imports the handler module. A path that is not there, or a file Node cannot run by itself (TypeScript
 * on Node 20), is a usage error that says what to do; any other failure to load it names the module.
 */
async function loadModule(modulePath: string): Promise<HandlerModule> {
  const path = resolve(modulePath);
  if (!existsSync(path)) {
    throw usageError(`<module>: ${modulePath} does not exist (looked for ${path})`);
  }
  try {
    return (await import(pathToFileURL(path).href)) as HandlerModule;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      const ext = extname(path);
      throw usageError(
        `<module>: Node cannot load ${ext || 'extension-less'} files such as ${modulePath} by itself`,
        /^\.[mc]?tsx?$/.test(ext)
          ? 'compile it to JavaScript, or run the CLI with a TypeScript loader: ' +
              `node --import tsx node_modules/pg-arbiter/dist/cli/main.js worker ${modulePath}`
          : 'give a JavaScript module (.js or .mjs)',
      );
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new CliError(`cannot load ${modulePath}: ${why}`, EXIT.failure, undefined, 'MODULE_LOAD_FAILED');
  }
}
