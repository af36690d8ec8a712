import { describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { QueueNotFoundError, ValidationError } from '../../src/index.js';
import { json, runCli, type CliResult } from '../cli/helpers.js';
import { AUTH, call, TOKEN } from '../http/helpers.js';
import { databaseUrl, useTestDb } from '../support/db.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('search across queues', () => {
  it('finds live jobs, kept history and dead letters by id, payload and error text', async () => {
    const a = await t.arbiter.createQueue('sa');
    const b = await t.arbiter.createQueue('sb');
    await t.pool.query(`SELECT "${t.schema}"._create_history_table('sa')`);
    const live = await a.enqueueMany(
      Array.from({ length: 30 }, (_, i) => ({ payload: { customer: { id: `c-${i % 3}` }, i } })),
    );
    // One of b's jobs dead-lettered with an error; one of a's kept in its history with an error.
    const [bj] = await b.enqueueMany([{ payload: { customer: { id: 'c-1' }, order: 'x' } }]);
    const [claimedB] = await b.claim();
    await b.dlq.move(claimedB!, 'Upstream said 50% OFF_LIMITS');
    await t.pool.query(
      `INSERT INTO "${t.schema}".sa_history (id, payload, priority, attempts, max_attempts, last_error, is_rollup, created_at)
       VALUES (999999, '{"customer":{"id":"c-1"},"kept":true}', 0, 2, 3, 'timeout talking to upstream', false, now())`,
    );
    // By id: index probes in every table of every queue (ids are per queue: one queue's here).
    const byId = await t.arbiter.search({ id: live[4]!.id, queue: 'sa' });
    expect(byId.mode).toBe('index');
    expect(byId.scanned).toBe(null);
    expect(byId.items).toEqual([expect.objectContaining({ queue: 'sa', source: 'job', id: live[4]!.id })]);
    const deadById = await t.arbiter.search({ id: bj!.id, queue: 'sb' });
    expect(deadById.items).toEqual([
      expect.objectContaining({
        queue: 'sb',
        source: 'dead-letter',
        id: bj!.id,
        deadLetterId: expect.any(String),
      }),
    ]);
    expect((await t.arbiter.search({ id: '999999' })).items[0]).toMatchObject({
      source: 'history',
      queue: 'sa',
    });
    // By payload containment: live jobs, history and dead letters alike, newest first.
    const c1 = await t.arbiter.search({ payload: { customer: { id: 'c-1' } } });
    expect(c1.mode).toBe('scan');
    expect(
      c1.items
        .filter((h) => h.source === 'job')
        .map((h) => h.id)
        .sort(),
    ).toEqual(
      live
        .filter((_, i) => i % 3 === 1)
        .map((j) => j!.id)
        .sort(),
    );
    expect(c1.items.map((h) => h.source).sort()).toEqual(
      [...Array(10).fill('job'), 'dead-letter', 'history'].sort(),
    );
    const times = c1.items.map((h) => h.at.getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
    // By error text, case-insensitive; % and _ in the text are literal.
    expect((await t.arbiter.search({ error: 'UPSTREAM' })).items.map((h) => h.source).sort()).toEqual([
      'dead-letter',
      'history',
    ]);
    expect((await t.arbiter.search({ error: '50% off_' })).items).toHaveLength(1);
    expect((await t.arbiter.search({ error: '5_%' })).items).toHaveLength(0);
    // Both: payload AND error.
    expect((await t.arbiter.search({ payload: { order: 'x' }, error: 'upstream' })).items).toHaveLength(1);
    // The scan bound is explicit: only the newest rows of each table are read.
    const bounded = await t.arbiter.search({ payload: { customer: { id: 'c-1' } }, queue: 'sa', scan: 6 });
    expect(bounded.scanned).toBe(6);
    expect(
      bounded.items
        .filter((h) => h.source === 'job')
        .map((h) => h.id)
        .sort(),
    ).toEqual(
      live
        .slice(24)
        .filter((_, i) => (24 + i) % 3 === 1)
        .map((j) => j!.id)
        .sort(),
    );
    // The limit stops the search.
    const limited = await t.arbiter.search({ payload: { customer: { id: 'c-1' } }, limit: 3 });
    expect(limited.items).toHaveLength(3);
    // Bad input writes nothing and says what is wrong.
    await expect(t.arbiter.search({})).rejects.toBeInstanceOf(ValidationError);
    await expect(t.arbiter.search({ id: '12a' })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.arbiter.search({ error: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.arbiter.search({ error: 'x', scan: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      t.arbiter.search({ payload: [1] as unknown as Record<string, unknown> }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(t.arbiter.search({ id: '1', queue: 'nope' })).rejects.toBeInstanceOf(QueueNotFoundError);
  });

  it('is served over HTTP and by arbiter search', async () => {
    const q = await t.arbiter.createQueue('sh');
    const [job] = await q.enqueueMany([
      { payload: { user: 'ana', n: 1 } },
      { payload: { user: 'bo', n: 2 } },
    ]);
    const app = createAdminApp({ arbiter: t.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
    const res = await call(
      app,
      'GET',
      `/search?payload=${encodeURIComponent('{"user":"ana"}')}`,
      undefined,
      AUTH,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mode: 'scan', scanned: 1000, truncated: false });
    expect(res.body.items).toEqual([expect.objectContaining({ queue: 'sh', source: 'job', id: job!.id })]);
    expect(
      (await call(app, 'GET', `/search?id=${job!.id}&queue=sh`, undefined, AUTH)).body.items,
    ).toHaveLength(1);
    expect((await call(app, 'GET', '/search', undefined, AUTH)).status).toBe(400);
    expect((await call(app, 'GET', '/search?payload=%7Bnope', undefined, AUTH)).status).toBe(400);
    expect((await call(app, 'GET', '/search?id=1&queue=nope', undefined, AUTH)).status).toBe(404);
    const [human, machine, bad] = await Promise.all([
      cli('search', '--payload', '{"user":"bo"}'),
      cli('--json', 'search', '--id', job!.id, '--queue', 'sh'),
      cli('search', '--scan', '0', '--error', 'x'),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/sh\s+job\s+\d+/);
    expect(human.stdout).toContain('searched the newest 1000 rows of each table');
    expect(json<{ items: { id: string }[] }>(machine).items.map((i) => i.id)).toEqual([job!.id]);
    expect(bad.code).toBe(2);
  });
});
