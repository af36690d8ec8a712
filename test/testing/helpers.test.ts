import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, type Queue } from '../../src/index.js';
import {
  TestAssertionError,
  createTestSchema,
  drain,
  expectEnqueued,
  fireCron,
  makeDue,
  type TestSchema,
} from '../../src/testing/index.js';
import { databaseUrl } from '../support/db.js';

// pg-arbiter/testing, used as an application's test suite would use it: a schema of its own, real
// handlers run inline, expectations on what was enqueued, time made to pass without waiting.

let t: TestSchema;
beforeAll(async () => {
  t = await createTestSchema({ connectionString: databaseUrl(), queues: ['emails', 'reports'] });
});
afterAll(async () => {
  await t?.drop();
});

interface Email {
  to: string;
  subject: string;
  tags?: string[];
}

async function queueCount(schema: string, table: string): Promise<number> {
  const { rows } = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`);
  return rows[0]!.n;
}

describe('createTestSchema', () => {
  it('gives a migrated schema of its own with the queues, and drops it', async () => {
    const own = await createTestSchema({
      connectionString: databaseUrl(),
      prefix: 'app_test',
      queues: ['a'],
    });
    expect(own.schema).toMatch(/^app_test_[0-9a-f]{10}$/);
    expect(own.schema).not.toBe(t.schema);
    await own.arbiter.queue('a').enqueue({ n: 1 });
    expect((await own.arbiter.getQueue('a'))!.name).toBe('a');
    await own.drop();
    await own.drop(); // twice is fine
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    try {
      const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [own.schema]);
      expect(rows).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('refuses a bad prefix or a missing database with a typed error, creating nothing', async () => {
    await expect(
      createTestSchema({ connectionString: databaseUrl(), prefix: 'Bad-Prefix' }),
    ).rejects.toMatchObject({
      code: 'INVALID_IDENTIFIER',
      field: 'options.prefix',
    });
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await expect(createTestSchema()).rejects.toBeInstanceOf(ValidationError);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
    await expect(
      createTestSchema({ connectionString: databaseUrl(), queue: ['x'] } as never),
    ).rejects.toMatchObject({
      field: 'options.queue',
    });
    await expect(
      createTestSchema({ connectionString: databaseUrl(), prefix: 'bad_queue', queues: ['Not A Queue'] }),
    ).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    // The schema migrated before the bad queue name was found is gone again.
    const { rows } = await t.pool.query(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bad\\_queue\\_%'`,
    );
    expect(rows).toEqual([]);
  });
});

describe('expectEnqueued', () => {
  it('finds jobs by partial payload and options, typed, and returns them', async () => {
    const emails = t.arbiter.queue<Email>('emails');
    await emails.enqueue(
      { to: 'ada@example.com', subject: 'Welcome', tags: ['new', 'eu'] },
      { groupKey: 'u1' },
    );
    await emails.enqueue({ to: 'bob@example.com', subject: 'Invoice' }, { priority: 5, delayMs: 60_000 });
    const [ada] = await expectEnqueued(emails, { payload: { to: 'ada@example.com' }, groupKey: 'u1' });
    expect(ada!.payload.subject).toBe('Welcome');
    await expectEnqueued(emails, { payload: { tags: ['new', 'eu'] }, status: 'ready', count: 1 });
    await expectEnqueued(emails, { payload: { subject: 'Invoice' }, status: ['scheduled'], priority: 5 });
    await expectEnqueued(emails, { where: (j) => j.payload.to.endsWith('@example.com'), count: 2 });
    await expectEnqueued(emails, { payload: { to: 'eve@example.com' }, count: 0 });
    await emails.store.db.query(`DELETE FROM "${t.schema}".emails`);
  });

  it('fails with a TestAssertionError that lists what the queue holds', async () => {
    const emails = t.arbiter.queue<Email>('emails');
    await emails.enqueue({ to: 'carol@example.com', subject: 'Reset password' }, { groupKey: 'u3' });
    const err = await expectEnqueued(emails, { payload: { to: 'dan@example.com' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TestAssertionError);
    const e = err as TestAssertionError;
    expect(e.code).toBe('TEST_ASSERTION');
    expect(e.operator).toBe('expectEnqueued');
    expect(e.message).toContain(
      'expected at least one job matching {"payload":{"to":"dan@example.com"}}, found 0',
    );
    expect(e.message).toContain('the queue holds 1 job:');
    expect(e.message).toMatch(
      /#\d+ ready\s+\{"to":"carol@example.com","subject":"Reset password"\}\s+\(group "u3"\)/,
    );
    const tooMany = await expectEnqueued(emails, { count: 3 }).catch((x: unknown) => x);
    expect((tooMany as TestAssertionError).message).toContain('expected exactly 3 jobs');
    expect(tooMany).toMatchObject({ expected: 3, actual: 1 });
    await expect(expectEnqueued(emails, { count: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(expectEnqueued(emails, { payloads: {} } as never)).rejects.toMatchObject({
      field: 'match.payloads',
    });
    await emails.store.db.query(`DELETE FROM "${t.schema}".emails`);
    const empty = await expectEnqueued(emails, {}).catch((x: unknown) => x);
    expect((empty as Error).message).toContain('the queue is empty');
  });
});

describe('drain', () => {
  it('runs ready jobs with the real handler and reports each outcome', async () => {
    const emails = t.arbiter.queue<Email>('emails');
    await emails.enqueueMany([
      { payload: { to: 'ok@x', subject: 'a' } },
      { payload: { to: 'keep@x', subject: 'b' } },
      { payload: { to: 'fail@x', subject: 'c' } },
      { payload: { to: 'throw@x', subject: 'd' }, maxAttempts: 2 },
      { payload: { to: 'later@x', subject: 'e' }, delayMs: 3_600_000 },
    ]);
    const sent: string[] = [];
    const result = await drain(emails, {
      backoff: { type: 'linear', delayMs: 30_000 },
      handler: async (job, ctx) => {
        switch (job.payload.to) {
          case 'keep@x':
            return ctx.keep({ id: 'msg-2' });
          case 'fail@x':
            return ctx.fail('mailbox does not exist');
          case 'throw@x':
            throw new Error('smtp down');
          default:
            sent.push(job.payload.to);
            return { id: 'msg-1' };
        }
      },
    });
    expect(sent).toEqual(['ok@x']);
    const by = new Map(result.runs.map((r) => [r.job.payload.to, r]));
    expect(by.get('ok@x')).toMatchObject({ outcome: 'done', result: { id: 'msg-1' }, written: true });
    expect(by.get('keep@x')).toMatchObject({ outcome: 'kept', result: { id: 'msg-2' } });
    expect(by.get('fail@x')).toMatchObject({ outcome: 'dead', recordedError: 'mailbox does not exist' });
    expect(by.get('throw@x')).toMatchObject({
      outcome: 'retried',
      delayMs: 30_000,
      recordedError: 'Error: smtp down',
    });
    expect((by.get('throw@x')!.error as Error).message).toBe('smtp down');
    expect(by.has('later@x')).toBe(false); // scheduled: not ready
    expect(result.counts).toEqual({ done: 1, kept: 1, removed: 0, retried: 1, snoozed: 0, dead: 1 });
    expect(await queueCount(t.schema, 'emails_history')).toBe(1);
    expect(await emails.dlq.count()).toBe(1);

    // The retry waits for its backoff and the delayed job for its time: make them due, drain again.
    expect((await drain(emails, async () => undefined)).runs).toEqual([]);
    expect(await makeDue(emails)).toBe(2);
    const again = await drain(emails, {
      maxAttempts: 2,
      handler: async (job) => {
        if (job.payload.to === 'throw@x') throw new Error('still down');
      },
    });
    expect(again.runs.map((r) => [r.job.payload.to, r.job.attempts, r.outcome])).toEqual([
      ['throw@x', 2, 'dead'],
      ['later@x', 1, 'done'],
    ]);
    expect(again.runs[0]!.recordedError).toContain('attempts exhausted (2): Error: still down');
    await expectEnqueued(emails, { count: 0 });
  });

  it('reruns a retry with no delay within the same drain, up to its attempts', async () => {
    const emails = t.arbiter.queue<Email>('emails');
    await emails.enqueue({ to: 'flaky@x', subject: 'f' }, { maxAttempts: 5 });
    let calls = 0;
    const result = await drain(emails, {
      backoff: () => 0,
      handler: async () => {
        if (++calls < 3) throw new Error(`flake ${calls}`);
        return 'sent';
      },
    });
    expect(result.runs.map((r) => [r.job.attempts, r.outcome])).toEqual([
      [1, 'retried'],
      [2, 'retried'],
      [3, 'done'],
    ]);
    expect(result.runs[2]!.result).toBe('sent');
  });

  it('runs a whole tree: children first, then the parent with their outcomes', async () => {
    const reports = t.arbiter.queue<{ part?: number; summary?: boolean }>('reports');
    await reports.enqueueTree({
      payload: { summary: true },
      rollup: true,
      children: [1, 2, 3].map((part) => ({ payload: { part } })),
    });
    let total = -1;
    const result = await drain(reports, async (job, ctx) => {
      if (job.payload.part === 3) return ctx.fail('part 3 broke');
      if (job.payload.part) return { rows: job.payload.part * 10 };
      total = 0;
      for (const outcome of ctx.children.values())
        if (outcome.ok) total += (outcome.value as { rows: number }).rows;
    });
    expect(total).toBe(30);
    expect(result.counts).toMatchObject({ done: 3, dead: 1 });
    expect(result.runs.at(-1)!.job.payload).toEqual({ summary: true });
    await expectEnqueued(reports, { count: 0 });
  });

  it('runs batch handlers, validates the config, and stops a job that never settles', async () => {
    const emails = t.arbiter.queue<Email>('emails');
    await emails.enqueueMany(
      Array.from({ length: 5 }, (_, i) => ({ payload: { to: `b${i}@x`, subject: 's' } })),
    );
    const sizes: number[] = [];
    const batched = await drain(emails, {
      batchSize: 2,
      batchHandler: async (jobs, ctx) => {
        sizes.push(jobs.length);
        return jobs.map((j) => (j.payload.to === 'b4@x' ? ctx.fail('no') : ctx.done()));
      },
    });
    expect(sizes).toEqual([2, 2, 1]);
    expect(batched.counts).toMatchObject({ done: 4, dead: 1 });

    await expect(drain(emails, {} as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(drain(emails, async () => undefined, { maxRuns: 0 })).rejects.toMatchObject({
      field: 'options.maxRuns',
    });

    // A handler that enqueues its successor every time would drain forever.
    await emails.enqueue({ to: 'loop@x', subject: '0' });
    const err = await drain(
      emails,
      async (job) => {
        await emails.enqueue({ to: 'loop@x', subject: String(Number(job.payload.subject) + 1) });
      },
      { maxRuns: 20 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TestAssertionError);
    expect((err as Error).message).toContain('drain(emails) ran 20 jobs and more are still ready');
    await emails.store.db.query(`DELETE FROM "${t.schema}".emails`);
  });
});

describe('makeDue', () => {
  it('makes chosen or near jobs due, releases a group held by a retry, and leaves others alone', async () => {
    const emails: Queue<Email> = t.arbiter.queue<Email>('emails');
    const soon = (await emails.enqueue({ to: 's@x', subject: 'soon' }, { delayMs: 60_000 }))!;
    const far = (await emails.enqueue({ to: 'f@x', subject: 'far' }, { delayMs: 86_400_000 }))!;
    const held = (await emails.enqueue({ to: 'h@x', subject: 'held' }, { delayMs: 1_000 }))!;
    await emails.jobs.suspend(held.id);
    expect(await makeDue(emails, { withinMs: 3_600_000 })).toBe(1);
    await expectEnqueued(emails, { payload: { subject: 'soon' }, status: 'ready' });
    await expectEnqueued(emails, { payload: { subject: 'far' }, status: 'scheduled' });
    expect(await makeDue(emails, { ids: [far.id] })).toBe(1);
    await expectEnqueued(emails, { status: 'ready', count: 2 });
    await expectEnqueued(emails, { payload: { subject: 'held' }, status: 'suspended' });
    expect(soon.id).not.toBe(far.id);
    await emails.store.db.query(`DELETE FROM "${t.schema}".emails`);

    // A failed job of a group keeps the group blocked until its retry time; made due, the group moves on.
    await emails.enqueueMany([
      { payload: { to: 'g@x', subject: 'first' }, groupKey: 'g' },
      { payload: { to: 'g@x', subject: 'second' }, groupKey: 'g' },
    ]);
    let firstRuns = 0;
    const handler = async (job: { payload: Email }) => {
      if (job.payload.subject === 'first' && ++firstRuns === 1) throw new Error('once');
    };
    const one = await drain(emails, handler);
    expect(one.runs.map((r) => [r.job.payload.subject, r.outcome])).toEqual([['first', 'retried']]);
    expect(await makeDue(emails)).toBe(1);
    const two = await drain(emails, handler);
    expect(two.runs.map((r) => [r.job.payload.subject, r.outcome])).toEqual([
      ['first', 'done'],
      ['second', 'done'],
    ]);
    await expect(makeDue(emails, { withinMs: -5 })).rejects.toBeInstanceOf(ValidationError);
    await expect(makeDue(emails, { ids: ['x'] as never })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('fireCron', () => {
  it("fires each schedule's next tick through the worker's code, step by step, once per tick", async () => {
    const schedules = [
      {
        name: 'nightly',
        queue: 'reports',
        pattern: '0 3 * * *',
        tz: 'Europe/Paris',
        payload: (tick: Date) => ({ summary: true, day: tick.toISOString() }),
      },
      { name: 'hourly', queue: 'reports', pattern: '0 * * * *', overlap: 'allow' as const },
    ];
    const first = await fireCron(t.arbiter, schedules);
    expect(first.map((f) => f.name)).toEqual(['nightly', 'hourly']);
    const nightly = first[0]!;
    // 03:00 in Paris is 01:00 or 02:00 UTC.
    expect(nightly.tick.getUTCHours() === 1 || nightly.tick.getUTCHours() === 2).toBe(true);
    expect(nightly.tick.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const [job] = await expectEnqueued(t.arbiter.queue('reports'), {
      meta: { cron: 'nightly', cronTick: nightly.tick.toISOString() },
      payload: { summary: true, day: nightly.tick.toISOString() },
    });
    expect(job!.id).toBe(nightly.jobId);

    // The next call steps to the next tick; nightly's previous job is still queued, so overlap skips it.
    const second = await fireCron(t.arbiter, schedules);
    const n2 = second.find((f) => f.name === 'nightly')!;
    expect(n2.tick.getTime() - nightly.tick.getTime()).toBeGreaterThanOrEqual(23 * 3_600_000);
    expect(n2).toMatchObject({ skipped: true, jobId: null });
    const h2 = second.find((f) => f.name === 'hourly')!;
    expect(h2.tick.getTime() - first[1]!.tick.getTime()).toBe(3_600_000);
    expect(h2.jobId).not.toBeNull();

    // A tick already fired is not fired again, whatever the clock says.
    expect(await fireCron(t.arbiter, schedules, { at: h2.tick })).toEqual([]);
    // Jump ahead a week: only the latest due tick fires (missed ticks are not replayed).
    const week = await fireCron(t.arbiter, [schedules[1]!], {
      at: new Date(h2.tick.getTime() + 7 * 86_400_000 + 1_800_000),
    });
    expect(week).toHaveLength(1);
    expect(week[0]!.tick.getTime()).toBe(h2.tick.getTime() + 7 * 86_400_000);

    const drained = await drain(t.arbiter.queue('reports'), async () => undefined);
    expect(drained.counts.done).toBe(4);
    await expect(
      fireCron(t.arbiter, [{ name: 'bad', queue: 'reports', pattern: 'every day' }]),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      fireCron(t.arbiter, [{ name: 'bad', queue: 'No Such Queue', pattern: '* * * * *' }]),
    ).rejects.toMatchObject({ field: 'options.cron[0].queue' });
    await expect(fireCron(t.arbiter, schedules, { at: new Date('nope') })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('drain with flows and awaited results', () => {
  it('runs a flow inline in dependency order and records every result', async () => {
    const reports = t.arbiter.queue<{ step: string }, string>('reports');
    const flow = await t.arbiter.flow({
      nodes: {
        first: { queue: reports, payload: { step: 'first' } },
        second: { queue: reports, payload: { step: 'second' }, dependsOn: ['first'] },
      },
    });
    const order: string[] = [];
    const result = await drain(reports, async (job) => {
      order.push(job.payload.step);
      return `${job.payload.step} done`;
    });
    expect(order).toEqual(['first', 'second']);
    expect(result.counts.done).toBe(2);
    expect(await flow.result({ timeoutMs: 5_000 })).toEqual({ first: 'first done', second: 'second done' });
  });
});
