import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { databaseUrl, uniqueName } from '../support/db.js';
import { cliArgv } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const schemas: string[] = [];

function start(args: string[], schema: string) {
  const env = { ...process.env, DATABASE_URL: databaseUrl(), ARBITER_SCHEMA: schema, NO_COLOR: '1' };
  const child = spawn(process.execPath, cliArgv(args), { cwd: ROOT, env });
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

afterAll(async () => {
  const pool = new pg.Pool({ connectionString: databaseUrl() });
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await pool.end();
});

describe('arbiter worker', () => {
  it('runs the handlers a module exports, then drains and exits 0 on SIGTERM', async () => {
    const schema = uniqueName('cli_w');
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const arbiter = new Arbiter({ pool, schema });
    await arbiter.migrate();
    await pool.query(`CREATE TABLE "${schema}".ran (job_id bigint, payload jsonb)`);
    const q = await arbiter.createQueue('cli_work');
    await q.enqueueMany(Array.from({ length: 25 }, (_, i) => ({ payload: { i } })));
    const w = start(['worker', 'test/fixtures/cli-handlers.ts'], schema);
    await w.waitFor(/worker .* running/);
    for (let i = 0; i < 200; i++) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".ran`);
      if (rows[0].n >= 25) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { rows } = await pool.query(`SELECT count(DISTINCT job_id)::int AS n FROM "${schema}".ran`);
    expect(rows[0].n).toBe(25);
    // Each handler's row commits before its ack, which the worker writes in its next batch.
    for (let i = 0; i < 100 && (await q.jobs.count()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await q.jobs.count()).toBe(0);
    w.child.kill('SIGTERM');
    const code = await w.exited;
    expect(code, w.output()).toBe(0);
    await pool.end();
  });

  it('refuses to start for a queue that does not exist (exit 3), or waits for it with --wait-for-queues', async () => {
    const schema = uniqueName('cli_w');
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const arbiter = new Arbiter({ pool, schema });
    await arbiter.migrate();
    await pool.query(`CREATE TABLE "${schema}".ran (job_id bigint, payload jsonb)`);
    const refused = start(['worker', 'test/fixtures/cli-handlers.ts'], schema);
    expect(await refused.exited, refused.output()).toBe(3);
    expect(refused.output()).toContain('queues not found in schema');
    expect(refused.output()).toContain('cli_work');
    expect(refused.output()).toContain('--wait-for-queues');
    expect((await pool.query(`SELECT count(*)::int AS n FROM "${schema}"._workers`)).rows[0].n).toBe(0);

    const waiting = start(['worker', 'test/fixtures/cli-handlers.ts', '--wait-for-queues'], schema);
    await waiting.waitFor(/waiting for queues to be created: cli_work/);
    const q = await arbiter.createQueue('cli_work');
    await q.enqueue({ late: true });
    await waiting.waitFor(/queue cli_work created; serving it/);
    for (let i = 0; i < 200; i++) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".ran`);
      if (rows[0].n >= 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await pool.query(`SELECT payload FROM "${schema}".ran`)).rows).toEqual([
      { payload: { late: true } },
    ]);
    waiting.child.kill('SIGTERM');
    expect(await waiting.exited, waiting.output()).toBe(0);
    await pool.end();
  });

  it('refuses a module without queues (exit 2)', async () => {
    const w = start(['worker', 'test/fixtures/no-queues.ts'], uniqueName('cli_w'));
    const code = await w.exited;
    expect(code).toBe(2);
    expect(w.output()).toMatch(/queues/);
  });
});

describe('arbiter demo', () => {
  it('runs queues, a worker and the admin API, then stops cleanly', async () => {
    const schema = uniqueName('cli_demo');
    schemas.push(schema);
    const d = start(['demo', '--port', '0', '--duration', '20'], schema);
    const [, url] = await d.waitFor(/admin API\s+(http:\/\/\S+)\/queues/);
    const res = await fetch(`${url}/queues`);
    expect(res.status).toBe(200);
    const body = JSON.stringify(await res.json());
    for (const name of ['emails', 'thumbnails', 'flaky', 'reports', 'imports']) expect(body).toContain(name);
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<script[^>]+src=/);
    // The worker makes progress: completions show in /metrics.
    for (let done = 0; done === 0; await new Promise((r) => setTimeout(r, 250))) {
      const text = await (await fetch(`${url}/metrics`)).text();
      done = Number(/^arbiter_jobs_completed_total\{queue="emails"\} (\d+)/m.exec(text)?.[1] ?? 0);
    }
    // A user's own database keeps its password out of the output.
    expect(d.output()).toMatch(/database\s+postgres:\/\/root@|database\s+postgres:\/\/[^ ]*:\*\*\*@/);
    expect(await d.exited).toBe(0);
    expect(d.output()).toContain('nothing left running');
  });
});

describe('arbiter serve', () => {
  it('serves the dashboard, the API and /metrics; refuses an open non-loopback bind', async () => {
    const schema = uniqueName('cli_serve');
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const arbiter = new Arbiter({ pool, schema });
    await arbiter.migrate();
    await arbiter.createQueue('served');
    const s = start(['serve', '--port', '0', '--token', 'secret-token-123'], schema);
    const [, url] = await s.waitFor(/serving (http:\/\/\S+)\//);
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/queues`)).status).toBe(401);
    const res = await fetch(`${url}/queues`, { headers: { authorization: 'Bearer secret-token-123' } });
    expect(JSON.stringify(await res.json())).toContain('served');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    const open = start(['serve', '--host', '0.0.0.0', '--port', '0'], schema);
    expect(await open.exited).toBe(2);
    expect(open.output()).toMatch(/credentials/);
    await pool.end();
  });
});
