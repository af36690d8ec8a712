#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerCron } from './commands/cron.js';
import { registerDemo } from './commands/demo.js';
import { registerDev } from './commands/dev.js';
import { registerDlq } from './commands/dlq.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEmit } from './commands/emit.js';
import { registerEnqueue } from './commands/enqueue.js';
import { registerFlows } from './commands/flows.js';
import { registerGroups } from './commands/groups.js';
import { registerJobs } from './commands/jobs.js';
import { registerMigrate } from './commands/migrate.js';
import { registerQueue } from './commands/queue.js';
import { registerSearch } from './commands/search.js';
import { registerServe } from './commands/serve.js';
import { registerStats } from './commands/stats.js';
import { registerWorker } from './commands/worker.js';
import { registerWorkers } from './commands/workers.js';
import { registerUninstall } from './commands/uninstall.js';
import { EXIT, describeError } from './errors.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function buildProgram(json = false): Command {
  const program = new Command('arbiter')
    .description(
      'Operate Arbiter, the PostgreSQL-backed job queue: schema, queues, jobs, dead letters, health.',
    )
    .version(version(), '-V, --version')
    .addOption(new Option('--json', 'machine-readable JSON on stdout (and nothing else)'))
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL URL, postgres://user:pass@host:5432/db').env(
        'DATABASE_URL',
      ),
    )
    .addOption(
      new Option('--schema <name>', "schema holding Arbiter's tables")
        .env('ARBITER_SCHEMA')
        .default('arbiter'),
    )
    .exitOverride()
    // Every command's --help lists the global options too (--database-url, --schema, --json).
    .configureHelp({ showGlobalOptions: true });
  registerMigrate(program);
  registerQueue(program);
  registerEnqueue(program);
  registerEmit(program);
  registerJobs(program);
  registerFlows(program);
  registerDlq(program);
  registerGroups(program);
  registerCron(program);
  registerStats(program);
  registerWorkers(program);
  registerSearch(program);
  registerDoctor(program);
  registerWorker(program);
  registerServe(program);
  registerDev(program);
  registerDemo(program);
  registerUninstall(program);
  // Subcommands inherit exitOverride only when created after it; set it (and the help hint) everywhere.
  const walk = (cmd: Command): void => {
    cmd.exitOverride();
    if (json) {
      // Usage errors in the same JSON shape as every other error.
      cmd.configureOutput({
        outputError: (message, write) =>
          write(
            JSON.stringify({ error: { code: 'USAGE', message: message.replace(/^error: /, '').trim() } }) +
              '\n',
          ),
      });
    } else cmd.showHelpAfterError('(run with --help for usage)');
    cmd.commands.forEach(walk);
  };
  walk(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildProgram(json).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help/version text).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const e = describeError(err);
    if (json) {
      process.stderr.write(
        JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint } }) + '\n',
      );
    } else {
      process.stderr.write(`arbiter: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
      if (process.env.ARBITER_DEBUG && err instanceof Error && err.stack)
        process.stderr.write(err.stack + '\n');
    }
    return e.exitCode;
  }
}

const code = await main(process.argv);
process.exitCode = code;
// Let stdout drain and exit normally; a connection attempt to a silent host must not keep us alive.
setTimeout(() => process.exit(code), 2000).unref();
