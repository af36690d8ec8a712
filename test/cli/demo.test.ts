import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, uniqueName } from '../support/db.js';
import { cliArgv, json, runCli } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `arbiter demo` in its own process group, as a terminal runs it (Ctrl-C reaches the whole group). */
function demo(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, cliArgv(['demo', ...args]), {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!pattern.test(out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}; output so far:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return out.match(pattern)!;
  };
  return { child, exited, waitFor, output: () => out };
}

interface OverviewQueue {
  name: string;
  claimable: { value: number };
  total: { value: number };
  dead: { value: number };
  alerts: { code: string }[];
}

describe('arbiter demo on its own embedded database', () => {
  it('keeps interesting state coming, prints a database URL the CLI can use, and Ctrl-C cleans up', async () => {
    const d = demo(['--port', '0'], { DATABASE_URL: undefined, ARBITER_SCHEMA: undefined });
    try {
      const [, url] = await d.waitFor(/admin API\s+(http:\/\/\S+)\/queues/, 120_000);
      const [, dbUrl, dataDir] = await d.waitFor(
        /database\s+(postgres:\/\/postgres:\w+@\S+)\s+\(embedded; data in (\S+),/,
      );
      expect(existsSync(dataDir!)).toBe(true);
      // The printed URL, password included, points the CLI at the demo's database.
      const why = await runCli(['--json', 'jobs', 'why', 'imports', '1'], { databaseUrl: dbUrl! });
      expect(why.code, why.stderr).toBe(0);
      expect(json<{ reasons: { code: string }[] }>(why).reasons.map((r) => r.code)).toEqual(['no-worker']);
      expect(d.output()).toContain(`DATABASE_URL='${dbUrl}' npx arbiter jobs why imports 1`);

      // Past the first half minute (the third summary line), there is still something to look at.
      await d.waitFor(/(\[\d\d:\d\d:\d\d\] emails.*\n[^]*){3}/, 90_000);
      const overview = (await (await fetch(`${url}/overview`)).json()) as { queues: OverviewQueue[] };
      const q = Object.fromEntries(overview.queues.map((x) => [x.name, x]));
      expect(q.thumbnails!.claimable.value, 'a backlog').toBeGreaterThanOrEqual(100);
      expect(q.imports!.total.value, 'work nobody serves').toBeGreaterThanOrEqual(5);
      expect(q.flaky!.dead.value, 'dead letters').toBeGreaterThan(0);
      // A partner's failing job holds its group while it waits for its retry (most of the time).
      const states = async () =>
        (
          (await (await fetch(`${url}/queues/flaky/groups`)).json()) as { items: { state: string }[] }
        ).items.map((g) => g.state);
      const end = Date.now() + 30_000;
      while (!(await states()).includes('retrying')) {
        if (Date.now() > end) throw new Error('no flaky group was ever held by a retry');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      // Ctrl-C in a terminal: SIGINT to the whole process group, the embedded server included.
      process.kill(-d.child.pid!, 'SIGINT');
    }
    expect(await d.exited).toBe(0);
    const lines = d.output().trim().split('\n');
    expect(lines.at(-1)).toMatch(/^demo stopped; nothing left running \(\S+ removed\)\.$/);
    const [, dataDir] = /data in (\S+),/.exec(d.output())!;
    expect(existsSync(dataDir!)).toBe(false);
  }, 240_000);
});

describe('arbiter demo on a port in use', () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('says the port is taken and suggests --port, as a usage error', async () => {
    const schema = uniqueName('cli_demo_port');
    const d = demo(['--port', String(port)], { DATABASE_URL: databaseUrl(), ARBITER_SCHEMA: schema });
    expect(await d.exited).toBe(2);
    expect(d.output()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(d.output()).toContain('--port');
    expect(d.output()).not.toContain('unexpected error');
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
});
