import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { cliArgv, runCli, type CliResult } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const t = useTestDb();
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1', ...env } });

/** A long-running command (serve) whose output is watched until a pattern shows up. */
function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, cliArgv(['--schema', t.schema, ...args]), {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl(), NO_COLOR: '1', ...env },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!pattern.test(out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}; output so far:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return out.match(pattern)!;
  };
  return { child, exited, waitFor, output: () => out };
}

const LIBRARY_WORDS = /auth\.token|insecure: true|options\.|unexpected error/;

describe('arbiter serve: usage errors name flags', () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('refuses an open bind, a short token and a taken port with exit 2 and what to do', async () => {
    const [open, short, busy] = await Promise.all([
      cli(['serve', '--host', '0.0.0.0', '--port', '0']),
      cli(['serve', '--token', 'short', '--port', '0']),
      cli(['serve', '--port', String(port), '--token', 'long-enough-token']),
    ]);
    expect(open.code, open.stderr).toBe(2);
    expect(open.stderr).toContain('refusing to serve the admin API on 0.0.0.0 without credentials');
    expect(open.stderr).toMatch(/--token .*ARBITER_TOKEN.*--insecure/s);
    expect(short.code, short.stderr).toBe(2);
    expect(short.stderr).toContain('--token: must be at least 8 characters');
    expect(busy.code, busy.stderr).toBe(2);
    expect(busy.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(busy.stderr).toContain('--port');
    for (const r of [open, short, busy]) expect(r.stderr).not.toMatch(LIBRARY_WORDS);
  });

  it('takes the token from ARBITER_TOKEN and never prints it in help', async () => {
    const help = await cli(['serve', '--help'], { ARBITER_TOKEN: 'env-secret-0123456789' });
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('(env: ARBITER_TOKEN)');
    expect(help.stdout).not.toContain('env-secret-0123456789');
    const s = start(['serve', '--port', '0'], { ARBITER_TOKEN: 'env-secret-0123456789' });
    try {
      const [, url] = await s.waitFor(/serving (http:\/\/\S+)\//);
      expect((await fetch(`${url}/queues`)).status).toBe(401);
      const ok = await fetch(`${url}/queues`, { headers: { authorization: 'Bearer env-secret-0123456789' } });
      expect(ok.status).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  });

  it('warns loudly when --insecure serves beyond loopback without credentials', async () => {
    const s = start(['serve', '--host', '0.0.0.0', '--port', '0', '--insecure']);
    try {
      await s.waitFor(/serving http:/);
      expect(s.output()).toContain('WARNING: the admin API on 0.0.0.0 has NO credentials (--insecure).');
      expect(s.output()).toContain('Anyone who can reach this port');
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  });
});

describe('arbiter worker: modules it cannot load', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbiter-worker-'));
    await writeFile(join(dir, 'handlers.coffee'), 'export const queues = {}\n');
    await writeFile(
      join(dir, 'broken.mjs'),
      "import './missing-dependency.mjs';\nexport const queues = {};\n",
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a missing module or a file Node cannot run is a usage error; a module that fails to load names it', async () => {
    const [missing, foreign, broken] = await Promise.all([
      cli(['worker', './no-such-handlers.ts']),
      cli(['worker', join(dir, 'handlers.coffee')]),
      cli(['worker', join(dir, 'broken.mjs')]),
    ]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('<module>: ./no-such-handlers.ts does not exist');
    expect(foreign.code, foreign.stderr).toBe(2);
    expect(foreign.stderr).toContain('Node cannot load .coffee files');
    expect(broken.code, broken.stderr).toBe(1);
    expect(broken.stderr).toContain(`cannot load ${join(dir, 'broken.mjs')}`);
    for (const r of [missing, foreign, broken]) expect(r.stderr).not.toContain('unexpected error');
  });
});
