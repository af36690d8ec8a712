import { describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { databaseUrl, uniqueName, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

interface Report {
  ok: boolean;
  schemaVersion: number;
  expectedVersion: number;
  queues: {
    name: string;
    missingTables: string[];
    missingTriggers: string[];
    groups: number;
    driftedGroups: number;
  }[];
  tables: { table: string; deadTuples: number; xidAge: number }[];
  findings: { severity: string; check: string; queue?: string; message: string; fix: string }[];
  repaired: string[];
}

describe('doctor', () => {
  it('passes on a healthy schema and finds a dropped trigger and drifted group counts', async () => {
    const a = await t.arbiter.createQueue('alpha');
    const b = await t.arbiter.createQueue('beta');
    await a.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: `g${n % 2}` })));
    await b.enqueue({ n: 1 }, { groupKey: 'x' });

    const [healthy, healthyHuman] = await Promise.all([cli('doctor', '--json'), cli('doctor')]);
    expect(healthy.code).toBe(0);
    const report = json<Report>(healthy);
    expect(report.ok).toBe(true);
    expect(report.schemaVersion).toBe(report.expectedVersion);
    expect(report.findings.filter((f) => f.severity === 'problem')).toEqual([]);
    expect(
      report.queues.map((q) => [q.name, q.missingTables, q.missingTriggers, q.groups, q.driftedGroups]),
    ).toEqual([
      ['alpha', [], [], 2, 0],
      ['beta', [], [], 1, 0],
    ]);
    expect(report.tables.map((x) => x.table)).toEqual(
      expect.arrayContaining(['alpha', 'alpha_groups', 'beta_dlq']),
    );
    expect(healthyHuman.stdout).toMatch(/Schema "t_[0-9a-f]+": migration \d+ \(current\)/);
    // The probe queue doctor creates to learn what _create_queue makes is always rolled back.
    expect((await t.arbiter.listQueues()).map((q) => q.name)).toEqual(['alpha', 'beta']);

    await t.pool.query(`DROP TRIGGER "alpha_group_del" ON "${t.schema}"."alpha"`);
    await t.pool.query(`UPDATE "${t.schema}"."beta_groups" SET in_flight_count = 5`);
    await t.pool.query(`INSERT INTO "${t.schema}"."beta_groups" (group_key) VALUES ('ghost')`);
    const [broken, brokenHuman] = await Promise.all([cli('doctor', '--json'), cli('doctor')]);
    expect(broken.code).toBe(1);
    const r = json<Report>(broken);
    expect(r.ok).toBe(false);
    expect(r.queues.find((q) => q.name === 'alpha')?.missingTriggers).toEqual(['alpha_group_del']);
    expect(r.queues.find((q) => q.name === 'beta')?.driftedGroups).toBe(2);
    expect(r.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ severity: 'problem', check: 'triggers', queue: 'alpha' }),
        expect.objectContaining({ severity: 'problem', check: 'groups', queue: 'beta' }),
      ]),
    );
    expect(brokenHuman.code).toBe(1);
    expect(brokenHuman.stdout).toContain('PROBLEM queue "alpha" is missing group triggers: alpha_group_del');
    expect(brokenHuman.stdout).toContain(
      'PROBLEM queue "beta": 2 groups whose row disagrees with their jobs',
    );
    expect(brokenHuman.stdout).toContain('refreshGroups()');

    // --fix repairs what it can (the drift); the missing trigger still fails the check.
    const fixed = await cli('doctor', '--fix', '--json');
    expect(fixed.code).toBe(1);
    const f = json<Report>(fixed);
    expect(f.repaired).toEqual(['beta']);
    expect(f.queues.find((q) => q.name === 'beta')?.driftedGroups).toBe(0);
    const { rows } = await t.pool.query(`SELECT group_key, in_flight_count FROM "${t.schema}"."beta_groups"`);
    expect(rows).toEqual([{ group_key: 'x', in_flight_count: 0 }]);
  });

  it('reports a missing, an unmigrated and a newer schema with exit code 1', async () => {
    const bare = uniqueName('bare');
    const newer = uniqueName('newer');
    await t.pool.query(`CREATE SCHEMA "${bare}"`);
    const arbiter = new Arbiter({ pool: t.pool, schema: newer });
    await arbiter.migrate();
    await t.pool.query(`INSERT INTO "${newer}"._migrations (version, name) VALUES (9999, 'future')`);
    try {
      const doctor = (schema: string, ...args: string[]) =>
        runCli(['doctor', ...args], { databaseUrl: databaseUrl(), schema });
      const nothing = uniqueName('nothing');
      const [missing, missingJson, unmigrated, tooNew] = await Promise.all([
        doctor(nothing),
        doctor(nothing, '--json'),
        doctor(bare, '--json'),
        doctor(newer, '--json'),
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain(`PROBLEM schema "${nothing}" does not exist`);
      expect(missing.stdout).toContain(`arbiter migrate --schema ${nothing}`);
      const states = [missingJson, unmigrated, tooNew].map((r) => {
        const report = json<Report & { schemaState: string }>(r);
        return [r.code, report.schemaState, report.findings.find((f) => f.check === 'schema')?.message];
      });
      expect(states).toEqual([
        [1, 'missing', `schema "${nothing}" does not exist`],
        [1, 'not-migrated', `schema "${bare}" has no Arbiter migrations applied`],
        [1, 'too-new', expect.stringMatching(/at migration 9999, newer than this Arbiter/)],
      ]);
    } finally {
      await t.pool.query(`DROP SCHEMA "${bare}", "${newer}" CASCADE`);
    }
  });

  it('warns about a worker registered for queues that do not exist', async () => {
    await t.arbiter.createQueue('served');
    await t.pool.query(
      `INSERT INTO "${t.schema}"._workers (id, queues, hostname, pid)
       VALUES ('w-waiting', '{served,not_yet,typo}', 'host-b', 77)`,
    );
    try {
      const r = await cli('doctor', '--json');
      const report = json<Report>(r);
      expect(report.findings.filter((f) => f.check === 'workers')).toEqual([
        expect.objectContaining({
          severity: 'warning',
          message: expect.stringContaining(
            'worker "w-waiting" (host-b, pid 77) is registered for queues that do not exist: not_yet, typo',
          ),
        }),
      ]);
    } finally {
      await t.pool.query(`DELETE FROM "${t.schema}"._workers WHERE id = 'w-waiting'`);
    }
  });
});

describe('stats and workers', () => {
  it('prints per-queue counts and registered workers', async () => {
    const q = await t.arbiter.createQueue('counted');
    await q.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3, delayMs: 3600_000 }]);
    await t.pool.query(
      `INSERT INTO "${t.schema}"._workers (id, queues, hostname, pid) VALUES ('w-test-1', '{counted}', 'host-a', 4242)`,
    );
    const [one, all, human, missing, workers, workersHuman] = await Promise.all([
      cli('stats', 'counted', '--json'),
      cli('stats', '--json'),
      cli('stats'),
      cli('stats', 'nosuch'),
      cli('workers', '--json'),
      cli('workers'),
    ]);
    expect(json(one)).toMatchObject({
      queue: 'counted',
      paused: false,
      total: 3,
      ready: 2,
      scheduled: 1,
      dead: 0,
    });
    expect(json<{ queue: string }[]>(all).map((s) => s.queue)).toContain('counted');
    expect(human.stdout).toMatch(/QUEUE\s+TOTAL\s+READY/);
    expect(human.stdout).toMatch(/counted\s+3\s+2\s+0\s+1/);
    expect(missing.code).toBe(3);
    expect(json(workers)).toEqual([
      expect.objectContaining({ id: 'w-test-1', hostname: 'host-a', pid: 4242, queues: ['counted'] }),
    ]);
    expect(workersHuman.stdout).toMatch(/w-test-1\s+host-a\s+4242\s+counted/);
  });
});
