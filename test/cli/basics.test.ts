import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseUrl, uniqueName, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (args: string[], input?: string): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, ...(input === undefined ? {} : { input }) });

interface JsonJob {
  id: string;
  groupKey: string | null;
  priority: number;
  maxAttempts: number;
  runAt: string;
  dedupKey: string | null;
  idempotencyKey: string | null;
  status: string;
  payload: unknown;
}

/**
 * What a schema holds, with its name written as S: relations, columns, functions (with their bodies),
 * triggers, indexes and the migrations recorded.
 */
async function catalog(schema: string): Promise<string[]> {
  const rows = async (sql: string) =>
    (await t.pool.query<{ r: string }>(sql, [schema])).rows.map((x) => x.r.replaceAll(schema, 'S'));
  return [
    ...(await rows(`SELECT c.relkind::text || ' ' || c.relname AS r FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`)),
    ...(await rows(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
                      coalesce(column_default, '') AS r
                    FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1`)),
    ...(await rows(`SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(replace(p.prosrc, $1, 'S')) AS r
                    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1`)),
    ...(await rows(`SELECT pg_get_triggerdef(g.oid) AS r FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`)),
    ...(await rows(`SELECT indexdef AS r FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`)),
    ...(await rows(
      `SELECT version || ' ' || name AS r FROM "${schema}"._migrations WHERE $1::text IS NOT NULL ORDER BY version`,
    )),
  ];
}

describe('migrate', () => {
  const fresh = uniqueName('cli_mig');
  const viaScript = uniqueName('cli_dry');
  const viaMigrate = uniqueName('cli_real');
  afterAll(async () => {
    for (const s of [fresh, viaScript, viaMigrate])
      await t.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  });

  it('--dry-run prints the pending SQL and applies nothing; migrate applies it once', async () => {
    const dry = await runCli(['migrate', '--dry-run'], { databaseUrl: databaseUrl(), schema: fresh });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('-- 0001_init');
    expect(dry.stdout).toContain(`CREATE TABLE "${fresh}"._queues`);
    expect(dry.stdout).not.toContain('{{schema}}');
    expect(dry.stdout).not.toContain(`"${fresh}" is replaced`);
    // As printed, the script makes the same schema as a real migrate (a second fresh schema).
    const printed = await runCli(['migrate', '--dry-run'], { databaseUrl: databaseUrl(), schema: viaScript });
    await t.pool.query(printed.stdout);
    await runCli(['migrate'], { databaseUrl: databaseUrl(), schema: viaMigrate });
    const [script, real] = [await catalog(viaScript), await catalog(viaMigrate)];
    expect(script.length).toBeGreaterThan(40);
    expect(script).toEqual(real);
    await t.pool.query(`SELECT "${viaScript}"._create_queue('dry_q')`);
    await t.pool.query(`SELECT "${viaMigrate}"._create_queue('dry_q')`);
    expect(await catalog(viaScript)).toEqual(await catalog(viaMigrate));
    const exists = async () =>
      (await t.pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [fresh])).rowCount === 1;
    expect(await exists()).toBe(false);

    const [applied] = await Promise.all([
      runCli(['--json', 'migrate'], { databaseUrl: databaseUrl(), schema: fresh }),
    ]);
    expect(applied.code).toBe(0);
    const result = json<{ applied: number[]; current: number; schema: string }>(applied);
    expect(result.schema).toBe(fresh);
    expect(result.applied.length).toBeGreaterThan(0);
    expect(result.applied).toContain(result.current);
    expect(await exists()).toBe(true);

    const [again, dryAgain] = await Promise.all([
      runCli(['migrate'], { databaseUrl: databaseUrl(), schema: fresh }),
      runCli(['migrate', '--dry-run', '--json'], { databaseUrl: databaseUrl(), schema: fresh }),
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/up to date \(version \d+\)/);
    expect(json(dryAgain)).toMatchObject({ pending: false, sql: '' });
  });
});

describe('queue', () => {
  it('creates, lists, pauses, resumes and drops, in human and JSON output', async () => {
    const created = await cli(['queue', 'create', 'mails']);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created queue "mails"');
    const [again, list] = await Promise.all([
      cli(['--json', 'queue', 'create', 'mails']),
      cli(['queue', 'list']),
    ]);
    expect(json(again)).toEqual({ queue: 'mails', created: false });
    expect(list.stdout).toMatch(/^NAME\s+STATE\s+CREATED/);
    expect(list.stdout).toMatch(/mails\s+active/);

    const paused = await cli(['queue', 'pause', 'mails']);
    expect(paused.code).toBe(0);
    const listed = json<{ name: string; paused: boolean }[]>(await cli(['queue', 'list', '--json']));
    expect(listed.find((q) => q.name === 'mails')?.paused).toBe(true);
    expect(json(await cli(['queue', 'resume', 'mails', '--json']))).toEqual({
      queue: 'mails',
      paused: false,
    });
    expect((await t.arbiter.listQueues()).find((q) => q.name === 'mails')?.paused).toBe(false);

    const [noYes, unknown, badName] = await Promise.all([
      cli(['queue', 'drop', 'mails']),
      cli(['queue', 'pause', 'nosuchqueue']),
      cli(['queue', 'create', 'Bad-Name']),
    ]);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('without --yes');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('"nosuchqueue" does not exist');
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('<queue>: must match');
    expect(badName.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect((await t.arbiter.listQueues()).map((q) => q.name)).toContain('mails');

    const dropped = await cli(['queue', 'drop', 'mails', '--yes']);
    expect(dropped.code).toBe(0);
    expect((await t.arbiter.listQueues()).map((q) => q.name)).not.toContain('mails');
    expect((await cli(['queue', 'drop', 'mails', '--yes'])).code).toBe(3);
  });
});

describe('enqueue', () => {
  it('passes every option through, in human and JSON output', async () => {
    await t.arbiter.createQueue('work');
    const before = Date.now();
    const [human, withOpts, delayed] = await Promise.all([
      cli(['enqueue', 'work', '{"n":1}']),
      cli([
        '--json',
        'enqueue',
        'work',
        '{"n":2}',
        '--group',
        'g1',
        '--priority',
        '-5',
        '--max-attempts',
        '3',
        '--dedup-key',
        'd1',
        '--dedup-mode',
        'replace',
      ]),
      cli(['enqueue', 'work', '{"n":3}', '--delay', '10m', '--idempotency-key', 'idem-1', '--json']),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Enqueued job \d+ on "work"/);
    const j2 = json<{ job: JsonJob }>(withOpts).job;
    expect(j2).toMatchObject({
      groupKey: 'g1',
      priority: -5,
      maxAttempts: 3,
      dedupKey: 'd1',
      payload: { n: 2 },
    });
    const stored = await t.arbiter.queue('work').jobs.get(j2.id);
    expect(stored).toMatchObject({ groupKey: 'g1', priority: -5, maxAttempts: 3, dedupKey: 'd1' });
    const j3 = json<{ job: JsonJob }>(delayed).job;
    expect(j3.status).toBe('scheduled');
    expect(j3.idempotencyKey).toBe('idem-1');
    expect(new Date(j3.runAt).getTime()).toBeGreaterThanOrEqual(before + 9 * 60_000);

    const runAt = '2099-01-02T03:04:05.000Z';
    const [again, dedupSkip, at] = await Promise.all([
      cli(['enqueue', 'work', '{"n":4}', '--idempotency-key', 'idem-1', '--json']),
      cli(['enqueue', 'work', '{"n":5}', '--dedup-key', 'd1', '--json']),
      cli(['enqueue', 'work', '{"n":6}', '--run-at', runAt, '--suspended', '--json']),
    ]);
    expect(json<{ job: JsonJob }>(again).job.id).toBe(j3.id); // idempotent: the live job comes back
    expect(json(dedupSkip)).toEqual({ job: null, skipped: true, reason: 'dedup' });
    expect(json<{ job: JsonJob }>(at).job).toMatchObject({ runAt, status: 'suspended' });
  });

  it('rejects bad input with exit code 2 and a clear message', async () => {
    const results = await Promise.all([
      cli(['enqueue', 'work', '{not json']),
      cli(['enqueue', 'work', '{}', '--priority', '99999']),
      cli(['enqueue', 'work', '{}', '--priority', 'high']),
      cli(['enqueue', 'work', '{}', '--delay', '5s', '--run-at', '2099-01-01T00:00:00Z']),
      cli(['enqueue', 'work', '{}', '--dedup-mode', 'sometimes', '--dedup-key', 'x']),
      cli(['enqueue', 'work']),
      cli(['enqueue', 'nosuchqueue', '{}']),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 3]);
    expect(results[0]!.stderr).toContain('payload: not valid JSON');
    // Errors name the flags typed, never the library's options.
    expect(results[1]!.stderr).toContain('--priority: must be an integer from -32768 to 32767');
    expect(results[2]!.stderr).toContain("'--priority <n>' argument 'high' is invalid");
    expect(results[3]!.stderr).toContain('--run-at: give either --delay or --run-at, not both');
    for (const r of results) {
      expect(r.stderr).not.toMatch(/options\.|delayMs|runAt\b/);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--file enqueues one payload per line in batches; a bad line writes nothing', async () => {
    await t.arbiter.createQueue('bulk');
    const dir = await mkdtemp(join(tmpdir(), 'arbiter-cli-'));
    try {
      const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ i }));
      const file = join(dir, 'jobs.ndjson');
      await writeFile(file, lines.join('\n') + '\n\n');
      const bad = join(dir, 'bad.ndjson');
      await writeFile(bad, '{"i":1}\n{"i":2}\nnope\n');
      const [ok, fromStdin, broken] = await Promise.all([
        cli(['enqueue', 'bulk', '--file', file, '--group', 'fg', '--json']),
        cli(['enqueue', 'bulk', '--file', '-'], '{"s":1}\n{"s":2}\n'),
        cli(['enqueue', 'bulk', '--file', bad]),
      ]);
      expect(json(ok)).toEqual({ queue: 'bulk', read: 2500, enqueued: 2500 });
      expect(fromStdin.code).toBe(0);
      expect(fromStdin.stdout).toContain('Enqueued 2 of 2 jobs');
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain('line 3: not valid JSON');
      const q = t.arbiter.queue('bulk');
      expect(await q.jobs.count({ groupKey: 'fg' })).toBe(2500);
      expect(await q.jobs.count()).toBe(2502);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('global behaviour', () => {
  it('reports usage errors, a missing or unreachable database, and help', async () => {
    const [badUrl, noUrl, refused, help, subHelp, unknownCmd, unknownOpt, version] = await Promise.all([
      runCli(['queue', 'list', '--database-url', 'mysql://me:s3cret@db/x'], { databaseUrl: null }),
      runCli(['queue', 'list'], { databaseUrl: null }),
      runCli(['--json', 'queue', 'list'], { databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }),
      runCli(['--help'], { databaseUrl: null }),
      runCli(['jobs', 'list', '--help'], { databaseUrl: null }),
      runCli(['frobnicate'], { databaseUrl: null }),
      runCli(['--json', 'queue', 'list', '--bogus'], { databaseUrl: null }),
      runCli(['--version'], { databaseUrl: null }),
    ]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--database-url: must be a postgres://');
    expect(badUrl.stderr).not.toContain('s3cret');
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('set DATABASE_URL or pass --database-url');
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: 'CANNOT_CONNECT' } });
    expect(help.code).toBe(0);
    for (const cmd of ['migrate', 'queue', 'enqueue', 'jobs', 'dlq', 'stats', 'workers', 'doctor']) {
      expect(help.stdout).toContain(cmd);
    }
    expect(subHelp.code).toBe(0);
    expect(subHelp.stdout).toContain('--payload-contains <json>');
    expect(subHelp.stdout).toContain('--cursor <cursor>');
    // A command's help lists the global options too.
    for (const g of ['--database-url <url>', '--schema <name>', '--json'])
      expect(subHelp.stdout).toContain(g);
    expect(unknownCmd.code).toBe(2);
    expect(unknownOpt.code).toBe(2);
    expect(unknownOpt.stdout).toBe('');
    expect(JSON.parse(unknownOpt.stderr)).toEqual({
      error: { code: 'USAGE', message: "unknown option '--bogus'" },
    });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
