// The queue list pages through queues (keyset by name): the library, the HTTP API and the CLI.
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { createAdminApp } from '../../src/http/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli } from '../cli/helpers.js';
import { call, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
const names = Array.from({ length: 23 }, (_, i) => `pg_${String(i).padStart(2, '0')}`);

beforeAll(async () => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
  await db.pool.query(`SELECT "${db.schema}"._create_queue(n) FROM unnest($1::text[]) n`, [names]);
});

describe('queue pages', () => {
  it('library: pages of 10 cover every queue once, in name order; bad input is refused', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await db.arbiter.listQueuesPage({ limit: 10, cursor });
      seen.push(...page.items.map((q) => q.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);
    await expect(db.arbiter.listQueuesPage({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(db.arbiter.listQueuesPage({ cursor: 'Robert"); DROP' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('HTTP: GET /queues?limit=&cursor= pages; without them, every queue', async () => {
    const first = await call(app, 'GET', '/queues?limit=20');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(20);
    expect(first.body.nextCursor).toBe('pg_19');
    const rest = await call(app, 'GET', `/queues?limit=20&cursor=${first.body.nextCursor}`);
    expect(rest.body.items.map((q: { name: string }) => q.name)).toEqual(names.slice(20));
    expect(rest.body.nextCursor).toBeNull();
    const all = await call(app, 'GET', '/queues');
    expect(all.body.items).toHaveLength(23);
    expect(all.body.nextCursor).toBeNull();
    expect((await call(app, 'GET', '/queues?limit=5000')).status).toBe(400);
  });

  it('HTTP: GET /overview?limit=&cursor= pages through the queues with their figures', async () => {
    await db.arbiter.queue('pg_21').enqueue({ x: 1 });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor === null ? '?limit=10' : `?limit=10&cursor=${cursor}`;
      const page = await call(app, 'GET', `/overview${q}`);
      expect(page.status).toBe(200);
      expect(page.body.queues.length).toBeLessThanOrEqual(10);
      seen.push(...page.body.queues.map((x: { name: string }) => x.name));
      for (const x of page.body.queues) if (x.name === 'pg_21') expect(x.total).toMatchObject({ value: 1 });
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(names);
    // Without paging, every queue as before.
    const all = await call(app, 'GET', '/overview');
    expect(all.body.queues).toHaveLength(23);
  });

  it('CLI: queue list --limit/--cursor', async () => {
    const cli = (args: string[]) => runCli(args, { databaseUrl: databaseUrl(), schema: db.schema });
    const page = json<{ items: { name: string }[]; nextCursor: string | null }>(
      await cli(['--json', 'queue', 'list', '--limit', '15']),
    );
    expect(page.items).toHaveLength(15);
    expect(page.nextCursor).toBe('pg_14');
    const human = await cli(['queue', 'list', '--limit', '15', '--cursor', 'pg_14']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('pg_15');
    expect(human.stdout).not.toContain('pg_14');
    expect(human.stdout).not.toContain('--cursor');
    const more = await cli(['queue', 'list', '--limit', '5']);
    expect(more.stdout).toContain('(more: --cursor pg_04)');
  });
});
