import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** Where Debian's (or another) pgbouncer binary is, and its version; null when absent. */
export function findPgBouncer(): { path: string; version: string } | null {
  const path = CANDIDATES.find((p) => existsSync(p));
  if (!path) return null;
  const out = spawnSync(path, ['--version'], { encoding: 'utf8' });
  const version = /PgBouncer (\d+\.\d+\.\d+)/i.exec(`${out.stdout}${out.stderr}`)?.[1];
  return version ? { path, version } : null;
}

export interface PgBouncer {
  /** postgres:// URL of the database through PgBouncer. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a PgBouncer of its own on a free port, in front of the database of `databaseUrl`, in the given
 * pooling mode. Clients log in to PgBouncer without a password (auth_type any); PgBouncer logs in to
 * PostgreSQL as the URL's user. Run as root, PgBouncer is told to drop to the `postgres` user.
 */
export async function startPgBouncer(
  binary: string,
  databaseUrl: string,
  options: { poolMode?: 'transaction' | 'session'; poolSize?: number } = {},
): Promise<PgBouncer> {
  const target = new URL(databaseUrl);
  const database = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  const user = decodeURIComponent(target.username) || 'postgres';
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-pgbouncer-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const server = [
    `host=${target.hostname}`,
    `port=${target.port || 5432}`,
    `dbname=${database}`,
    `user=${user}`,
    target.password ? `password=${decodeURIComponent(target.password)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const config = join(dir, 'pgbouncer.ini');
  writeFileSync(
    config,
    [
      '[databases]',
      `${database} = ${server}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 8}`,
      'max_client_conn = 500',
      // pg sends extra_float_digits; Arbiter's worker connections send options.
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  chmodSync(config, 0o644);
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', config] : [config];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer exited at start: ${stderr.trim()}`);
    }
    if (await accepts(port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const auth = `${encodeURIComponent(user)}@`;
  return {
    url: `postgres://${auth}127.0.0.1:${port}/${encodeURIComponent(database)}`,
    port,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
