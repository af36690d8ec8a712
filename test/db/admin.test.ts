import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/core/cursor.js';
import {
  JOB_STATUSES,
  QueueNotFoundError,
  ValidationError,
  type Job,
  type JobStatus,
  type Queue,
} from '../../src/index.js';
import { shiftJob, useTestDb } from '../support/db.js';

const t = useTestDb();

type P = { n: number; tag?: string; nested?: { k: string } };

async function sql(text: string, values: unknown[] = []): Promise<void> {
  await t.pool.query(text, values);
}

function ids(jobs: readonly Job<unknown>[]): string[] {
  return jobs.map((j) => j.id);
}

const desc = (a: string, b: string) => (BigInt(b) > BigInt(a) ? 1 : BigInt(b) < BigInt(a) ? -1 : 0);

/** Walks every page and returns all ids in order, checking each page's size and that the last has no cursor. */
async function walk(q: Queue<P>, filter: object, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await q.jobs.list({ filter, limit, cursor });
    out.push(...ids(page.items));
    if (page.nextCursor === null) return out;
    expect(page.items).toHaveLength(limit);
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

describe('get, list and keyset pagination', () => {
  let q: Queue<P>;
  let all: string[];
  beforeAll(async () => {
    q = await t.arbiter.createQueue<P>('paged');
    const jobs = await q.enqueueMany(Array.from({ length: 23 }, (_, n) => ({ payload: { n } })));
    all = ids(jobs).sort(desc);
  });

  it('get returns the job with its status, null when absent, and rejects bad ids', async () => {
    const job = await q.jobs.get(all[0]!);
    expect(job).toMatchObject({ id: all[0], queue: 'paged', status: 'ready', attempts: 0 });
    expect(await q.jobs.get(Number(all[0]))).toMatchObject({ id: all[0] });
    expect(await q.jobs.get(999_999_999n)).toBeNull();
    for (const bad of ['abc', 0, -1, 1.5, '01', null, '9223372036854775808']) {
      await expect(q.jobs.get(bad as never)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it('walks pages newest first with no gaps or duplicates', async () => {
    for (const limit of [1, 5, 7, 23, 1000]) {
      expect(await walk(q, {}, limit)).toEqual(all);
    }
    const first = await q.jobs.list({ limit: 23 });
    expect(first.nextCursor).toBeNull();
  });

  it('keeps its place while jobs are added and removed between pages', async () => {
    const p1 = await q.jobs.list({ limit: 10 });
    expect(ids(p1.items)).toEqual(all.slice(0, 10));
    const added = await q.enqueue({ n: 100 });
    const victim = all[12]!;
    await sql(`DELETE FROM "${t.schema}".paged WHERE id = $1`, [victim]);
    const p2 = await q.jobs.list({ limit: 10, cursor: p1.nextCursor });
    expect(ids(p2.items)).toEqual(all.slice(10, 21).filter((id) => id !== victim));
    expect(ids(p2.items)).not.toContain(added!.id);
    await sql(`DELETE FROM "${t.schema}".paged WHERE id = $1`, [added!.id]);
    all = all.filter((id) => id !== victim);
    expect(await walk(q, {}, 4)).toEqual(all);
  });

  it('defaults to 50 per page and validates limit', async () => {
    const big = await t.arbiter.createQueue<P>('paged_big');
    await big.enqueueMany(Array.from({ length: 55 }, (_, n) => ({ payload: { n } })));
    const page = await big.jobs.list();
    expect(page.items).toHaveLength(50);
    expect((await big.jobs.list({ cursor: page.nextCursor })).items).toHaveLength(5);
    for (const limit of [0, 1001, 2.5, '10', -1]) {
      await expect(big.jobs.list({ limit: limit as never })).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(big.jobs.list({ bogus: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
  });

  it('rejects tampered, foreign and malformed cursors', async () => {
    const { nextCursor } = await q.jobs.list({ limit: 3 });
    expect(typeof nextCursor).toBe('string');
    const c = nextCursor!;
    const flipped = c.slice(0, -2) + (c.at(-2) === 'A' ? 'B' : 'A') + c.at(-1);
    const bad = [
      flipped,
      c + 'x',
      c + '=',
      'not a cursor',
      '',
      42,
      {},
      encodeCursor('dlq:failed-desc', ['5']),
      encodeCursor('jobs:id-desc', ['0']),
      encodeCursor('jobs:id-desc', ['12abc']),
      encodeCursor('jobs:id-desc', ['9223372036854775808']),
      encodeCursor('jobs:id-desc', ['5', '6']),
      Buffer.from('["jobs:id-desc",5]').toString('base64url'),
    ];
    for (const cursor of bad) {
      await expect(q.jobs.list({ cursor: cursor as never }), String(cursor)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    // A well-formed cursor resumes below its id even when that id is gone.
    const resumed = await q.jobs.list({ limit: 2, cursor: encodeCursor('jobs:id-desc', [all[5]!]) });
    expect(ids(resumed.items)).toEqual(all.slice(6, 8));
  });

  it('reports a queue that was never created as QueueNotFoundError', async () => {
    await expect(t.arbiter.queue('never_made').jobs.count()).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(t.arbiter.queue('never_made').jobs.refreshGroups()).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
  });
});

describe('statuses', () => {
  let q: Queue<P>;
  const expected = new Map<JobStatus, string[]>();
  beforeAll(async () => {
    q = await t.arbiter.createQueue<P>('statuses');
    const running = (await q.enqueue({ n: 1 }, { groupKey: 'g1' }))!;
    expect(ids(await q.claim())).toEqual([running.id]);
    const retrying = (await q.enqueue({ n: 2 }))!;
    const [claimed] = await q.claim();
    expect(await q.retry(claimed!, { delayMs: 60_000, error: 'boom' })).toBe(1);
    const exhausted = (await q.enqueue({ n: 3 }, { maxAttempts: 1 }))!;
    expect(ids(await q.claim())).toEqual([exhausted.id]);
    await shiftJob(
      t.pool,
      t.schema,
      'statuses',
      exhausted.id,
      `leased_until = now() - interval '1 second', run_at = now() - interval '1 second'`,
    );
    const pending = (await q.enqueue({ n: 4 }, { groupKey: 'g2' }))!;
    await shiftJob(t.pool, t.schema, 'statuses', pending.id, `run_at = now() - interval '100 seconds'`);
    const scheduled = (await q.enqueue({ n: 5 }, { delayMs: 60_000 }))!;
    const suspended = (await q.enqueue({ n: 6 }, { suspended: true }))!;
    const tree = await q.enqueueTree({ payload: { n: 7 }, children: [{ payload: { n: 8 } }] });
    expected.set('in-flight', [running.id]);
    expected.set('retrying', [retrying.id]);
    expected.set('exhausted', [exhausted.id]);
    expected.set('ready', [tree.children[0]!.job.id, pending.id]);
    expected.set('scheduled', [scheduled.id]);
    expected.set('suspended', [suspended.id]);
    expected.set('waiting', [tree.job.id]);
    expected.set('dead', []);
    await sql(
      `INSERT INTO "${t.schema}".statuses_dlq (job_id, payload, priority, attempts, max_attempts, last_error, parent_id,
         is_rollup, created_at) VALUES (424242, '{"n":9}', 0, 1, 1, 'dead', $1, false, now())`,
      [tree.job.id],
    );
  });

  it('filters by each status, and each listed job reports that status', async () => {
    for (const status of JOB_STATUSES) {
      const want = (expected.get(status) ?? []).slice().sort(desc);
      const page = await q.jobs.list({ filter: { status } });
      expect(ids(page.items), status).toEqual(want);
      for (const job of page.items) expect(job.status).toBe(status);
      expect(await q.jobs.count({ status }), status).toBe(want.length);
    }
  });

  it('gives every live job exactly one status', async () => {
    const total = await q.jobs.count();
    expect(total).toBe(8);
    let sum = 0;
    for (const status of JOB_STATUSES) sum += await q.jobs.count({ status });
    expect(sum).toBe(total);
    expect(await q.jobs.count({ status: [...JOB_STATUSES] })).toBe(total);
    expect(await q.jobs.count({ status: ['in-flight', 'scheduled', 'in-flight'] })).toBe(2);
    expect(await q.jobs.count({ status: [] })).toBe(0);
  });

  it('stats and depth agree with the statuses', async () => {
    const s = await q.jobs.stats();
    expect(s).toMatchObject({
      total: 8,
      ready: 2,
      inFlight: 1,
      scheduled: 1,
      retrying: 1,
      suspended: 2,
      dead: 1,
    });
    expect(s.groups).toBe(2);
    expect(s.oldestReadyAgeSeconds).toBeGreaterThanOrEqual(99);
    expect(s.oldestReadyAgeSeconds).toBeLessThan(200);
    expect(await q.jobs.depth()).toBe(2);
    expect(await q.jobs.count({ status: 'in-flight' })).toBe(1);
    expect(ids((await q.jobs.list({ filter: { status: 'in-flight' } })).items)).toEqual(
      expected.get('in-flight'),
    );
    const empty = await t.arbiter.createQueue('statuses_empty');
    expect(await empty.jobs.stats()).toEqual({
      total: 0,
      ready: 0,
      inFlight: 0,
      scheduled: 0,
      retrying: 0,
      suspended: 0,
      dead: 0,
      groups: 0,
      oldestReadyAgeSeconds: null,
    });
    expect(await empty.jobs.depth()).toBe(0);
  });

  it('an expired lease is no longer in flight', async () => {
    const [running] = expected.get('in-flight')!;
    await shiftJob(
      t.pool,
      t.schema,
      'statuses',
      running!,
      `leased_until = now() - interval '1 second', run_at = now() - interval '1 second'`,
    );
    expect(await q.jobs.count({ status: 'in-flight' })).toBe(0);
    expect((await q.jobs.get(running!))!.status).toBe('ready');
    expect(await q.jobs.depth()).toBe(3);
  });
});

describe('filters', () => {
  let q: Queue<P>;
  const j: Record<string, Job<P>> = {};
  beforeAll(async () => {
    q = await t.arbiter.createQueue<P>('filtered');
    j.a1 = (await q.enqueue({ n: 1, tag: 'x', nested: { k: 'v' } }, { groupKey: 'a', priority: 5 }))!;
    j.a2 = (await q.enqueue({ n: 2, tag: 'x' }, { groupKey: 'a' }))!;
    j.b1 = (await q.enqueue({ n: 3, tag: 'y' }, { groupKey: 'b', dedup: { key: 'd-1' } }))!;
    j.plain = (await q.enqueue({ n: 4 }, { idempotencyKey: 'idem-1', priority: 5 }))!;
    j.old = (await q.enqueue({ n: 5, nested: { k: 'v' } }))!;
    await shiftJob(t.pool, t.schema, 'filtered', j.old.id, `created_at = now() - interval '2 days'`);
    const tree = await q.enqueueTree({
      payload: { n: 6 },
      children: [{ payload: { n: 7 } }, { payload: { n: 8 } }],
    });
    j.parent = tree.job;
    j.c1 = tree.children[0]!.job;
    j.c2 = tree.children[1]!.job;
    // Two claims then a retry: attempts 2 with an error recorded; a2 and c1 stay unclaimed.
    for (let i = 0; i < 2; i++) {
      await sql(`UPDATE "${t.schema}".filtered SET suspended = true WHERE id <> $1 AND NOT suspended`, [
        j.plain.id,
      ]);
      const [c] = await q.claim();
      expect(c!.id).toBe(j.plain.id);
      await q.retry(c!, { error: 'failed' });
      await sql(`UPDATE "${t.schema}".filtered SET suspended = false WHERE id NOT IN ($1, $2)`, [
        j.parent.id,
        j.plain.id,
      ]);
    }
  });

  const cases: [string, () => object, () => string[]][] = [
    ['groupKey', () => ({ groupKey: 'a' }), () => [j.a2!.id, j.a1!.id]],
    [
      'groupKey null',
      () => ({ groupKey: null }),
      () => [j.c2!.id, j.c1!.id, j.parent!.id, j.old!.id, j.plain!.id],
    ],
    ['parentId', () => ({ parentId: j.parent!.id }), () => [j.c2!.id, j.c1!.id]],
    ['parentId as number', () => ({ parentId: Number(j.parent!.id) }), () => [j.c2!.id, j.c1!.id]],
    ['createdBefore', () => ({ createdBefore: new Date(Date.now() - 86_400_000) }), () => [j.old!.id]],
    [
      'createdAfter',
      () => ({ createdAfter: new Date(Date.now() - 86_400_000), groupKey: 'b' }),
      () => [j.b1!.id],
    ],
    ['priority', () => ({ priority: 5 }), () => [j.plain!.id, j.a1!.id]],
    ['minAttempts', () => ({ minAttempts: 2 }), () => [j.plain!.id]],
    ['minAttempts 0', () => ({ minAttempts: 0, groupKey: 'a' }), () => [j.a2!.id, j.a1!.id]],
    ['hasError', () => ({ hasError: true }), () => [j.plain!.id]],
    ['hasError false', () => ({ hasError: false, priority: 5 }), () => [j.a1!.id]],
    ['dedupKey', () => ({ dedupKey: 'd-1' }), () => [j.b1!.id]],
    ['idempotencyKey', () => ({ idempotencyKey: 'idem-1' }), () => [j.plain!.id]],
    ['payloadContains', () => ({ payloadContains: { tag: 'x' } }), () => [j.a2!.id, j.a1!.id]],
    [
      'payloadContains nested',
      () => ({ payloadContains: { nested: { k: 'v' } } }),
      () => [j.old!.id, j.a1!.id],
    ],
    ['ids', () => ({ ids: [j.c1!.id, BigInt(j.a1!.id), 987654321] }), () => [j.c1!.id, j.a1!.id]],
    ['ids empty', () => ({ ids: [] }), () => []],
    ['status + group', () => ({ status: 'ready', groupKey: 'a' }), () => [j.a2!.id, j.a1!.id]],
    [
      'all combined',
      () => ({ groupKey: 'a', priority: 5, payloadContains: { tag: 'x' }, hasError: false }),
      () => [j.a1!.id],
    ],
    ['no match', () => ({ groupKey: 'a', dedupKey: 'd-1' }), () => []],
    [
      'undefined fields ignored',
      () => ({ groupKey: undefined }),
      () =>
        Object.values(j)
          .map((x) => x.id)
          .sort(desc),
    ],
  ];

  for (const [name, filter, want] of cases) {
    it(`filters by ${name}`, async () => {
      expect(ids((await q.jobs.list({ filter: filter() })).items)).toEqual(want());
      expect(await q.jobs.count(filter())).toBe(want().length);
      expect(await walk(q, filter(), 1)).toEqual(want());
    });
  }

  it('byGroup / byParent list and count one group or parent, paginated', async () => {
    const g1 = await q.jobs.list({ filter: { groupKey: 'a' }, limit: 1 });
    expect(ids(g1.items)).toEqual([j.a2!.id]);
    const g2 = await q.jobs.list({ filter: { groupKey: 'a' }, limit: 1, cursor: g1.nextCursor });
    expect(ids(g2.items)).toEqual([j.a1!.id]);
    expect(g2.nextCursor).toBeNull();
    expect(await q.jobs.count({ groupKey: 'a' })).toBe(2);
    expect(await q.jobs.count({ groupKey: 'zzz' })).toBe(0);
    expect(ids((await q.jobs.list({ filter: { parentId: j.parent!.id } })).items)).toEqual([
      j.c2!.id,
      j.c1!.id,
    ]);
    expect(await q.jobs.count({ parentId: BigInt(j.parent!.id) })).toBe(2);
    expect(await q.jobs.count({ parentId: j.c1!.id })).toBe(0);
  });

  it('byIdempotencyKey finds the live job only', async () => {
    expect(await q.jobs.byIdempotencyKey('idem-1')).toMatchObject({
      id: j.plain!.id,
      status: 'ready',
      attempts: 2,
    });
    expect(await q.jobs.byIdempotencyKey('idem-2')).toBeNull();
    for (const bad of ['', null, 5, 'x'.repeat(513)]) {
      await expect(q.jobs.byIdempotencyKey(bad as never)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it('countChildren and countDeadChildren report only parents that have some', async () => {
    await sql(`UPDATE "${t.schema}".filtered SET suspended = true WHERE id = $1`, [j.c2!.id]);
    await sql(
      `INSERT INTO "${t.schema}".filtered_dlq (job_id, payload, priority, attempts, max_attempts, parent_id, is_rollup,
         created_at) SELECT 1000 + g, '{}', 0, 1, 1, $1, false, now() FROM generate_series(1, 3) g`,
      [j.parent!.id],
    );
    const counts = await q.jobs.countChildren([j.parent!.id, j.a1!.id, 123456789]);
    expect([...counts]).toEqual([[j.parent!.id, { total: 2, paused: 1 }]]);
    expect([...(await q.jobs.countDeadChildren([Number(j.parent!.id), j.c1!.id]))]).toEqual([
      [j.parent!.id, 3],
    ]);
    expect((await q.jobs.countChildren([])).size).toBe(0);
    expect((await q.jobs.countDeadChildren([])).size).toBe(0);
    await sql(`UPDATE "${t.schema}".filtered SET suspended = false WHERE id = $1`, [j.c2!.id]);
  });

  it('rejects invalid filters with a ValidationError naming the field', async () => {
    const bad: [object, string][] = [
      [{ bogus: 1 }, 'options.filter.bogus'],
      [{ failedAfter: new Date() }, 'options.filter.failedAfter'],
      [{ status: 'done' }, 'options.filter.status'],
      [{ status: ['ready', 'nope'] }, 'options.filter.status[1]'],
      [{ groupKey: '' }, 'options.filter.groupKey'],
      [{ groupKey: 5 }, 'options.filter.groupKey'],
      [{ parentId: 'x' }, 'options.filter.parentId'],
      [{ createdAfter: '2024-01-01' }, 'options.filter.createdAfter'],
      [{ createdBefore: new Date('nope') }, 'options.filter.createdBefore'],
      [{ priority: 40000 }, 'options.filter.priority'],
      [{ minAttempts: -1 }, 'options.filter.minAttempts'],
      [{ hasError: 'yes' }, 'options.filter.hasError'],
      [{ dedupKey: null }, 'options.filter.dedupKey'],
      [{ idempotencyKey: 'a\u0000b' }, 'options.filter.idempotencyKey'],
      [{ payloadContains: 'x' }, 'options.filter.payloadContains'],
      [{ payloadContains: { n: undefined } }, 'payload'],
      [{ ids: 'x' }, 'options.filter.ids'],
      [{ ids: [1, 'x'] }, 'options.filter.ids[1]'],
      [{ ids: Array.from({ length: 10_001 }, (_, i) => i + 1) }, 'options.filter.ids'],
    ];
    for (const [filter, field] of bad) {
      const err = await q.jobs.list({ filter: filter as never }).catch((e: unknown) => e);
      expect(err, JSON.stringify(filter)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
    }
    await expect(q.jobs.count('x' as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.count({ status: 'x' } as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.list({ filter: [] as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.list({ filter: { groupKey: '' } })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.list({ filter: { groupKey: 'a' }, limit: 0 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.jobs.list({ filter: { groupKey: 'a' }, page: 2 } as never)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.jobs.list({ filter: { parentId: '0' } })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.list({ filter: { status: 'in-flight' }, cursor: 'nope' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.jobs.countChildren('1' as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.countDeadChildren([1, -2])).rejects.toBeInstanceOf(ValidationError);
  });
});
