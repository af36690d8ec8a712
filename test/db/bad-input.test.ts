import { beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, ArbiterError, type Queue } from '../../src/index.js';
import { useTestDb } from '../support/db.js';

const t = useTestDb();
let q: Queue<unknown>;
let heldJob: { id: string; attempts: number };

/** A checksum of every row in this file's schema: bad input must leave it unchanged. */
async function checksum(): Promise<string> {
  const { rows } = await t.pool.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
    [t.schema],
  );
  const parts: string[] = [];
  for (const { table_name } of rows) {
    const r = await t.pool.query(
      `SELECT count(*) AS n, coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM "${t.schema}"."${table_name}" x`,
    );
    parts.push(`${table_name}:${r.rows[0].n}:${r.rows[0].h}`);
  }
  return parts.join(';');
}

beforeAll(async () => {
  q = await t.arbiter.createQueue('bad');
  await q.enqueue({ seed: 1 }, { groupKey: 'g' });
  const [job] = await q.claim({ leaseMs: 600_000 });
  heldJob = { id: job!.id, attempts: job!.attempts };
  await q.enqueue({ seed: 2 });
  await t.arbiter.createQueue('box_results');
});

const cyclic: Record<string, unknown> = {};
cyclic.me = cyclic;

type Case = [name: string, code: string, field: RegExp, run: () => Promise<unknown>];

const cases: Case[] = [
  // identifiers
  ['queue name with a quote', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('a"b')],
  ['queue name with a semicolon', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('a;b')],
  ['queue name with a space', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('a b')],
  ['queue name with --', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('a--b')],
  ['queue name in unicode', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('résumé')],
  ['empty queue name', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('')],
  ['256-character queue name', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('a'.repeat(256))],
  ['queue name with a leading digit', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('1abc')],
  ['upper-case queue name', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('Emails')],
  ['SQL in a queue name', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('public; DROP TABLE x')],
  ['reserved internal queue name', 'INVALID_IDENTIFIER', /queue/, () => t.arbiter.createQueue('_queues')],
  // a queue's tables are named after it: names that would collide with another queue's tables
  ["another queue's dead-letter table", 'INVALID_ARGUMENT', /"bad"/, () => t.arbiter.createQueue('bad_dlq')],
  ["another queue's group table", 'INVALID_ARGUMENT', /"bad"/, () => t.arbiter.createQueue('bad_groups')],
  ["another queue's history table", 'INVALID_ARGUMENT', /"bad"/, () => t.arbiter.createQueue('bad_history')],
  ["another queue's results table", 'INVALID_ARGUMENT', /"bad"/, () => t.arbiter.createQueue('bad_results')],
  [
    'a queue whose tables another queue has',
    'INVALID_ARGUMENT',
    /"box_results"/,
    () => t.arbiter.createQueue('box'),
  ],
  [
    'SQL in a schema name',
    'INVALID_IDENTIFIER',
    /schema/,
    async () => new Arbiter({ pool: t.pool, schema: 'x"; DROP SCHEMA public; --' }),
  ],
  // payloads
  ['undefined payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue(undefined)],
  ['function payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue(() => 1)],
  ['BigInt payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue({ n: 10n })],
  ['circular payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue(cyclic)],
  ['NaN in payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue({ n: NaN })],
  ['NUL in payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue({ s: '\u0000' })],
  ['lone surrogate in payload', 'PAYLOAD_NOT_SERIALIZABLE', /payload/, () => q.enqueue({ s: '\udc00' })],
  [
    'payload over the size limit',
    'PAYLOAD_TOO_LARGE',
    /payload/,
    () => q.enqueue({ s: 'x'.repeat(1024 * 1024 + 1) }),
  ],
  [
    'bad child result',
    'PAYLOAD_NOT_SERIALIZABLE',
    /payload/,
    () => q.ack(heldJob, { result: { f: () => 1 } }),
  ],
  [
    'lone surrogate in a group key',
    'INVALID_ARGUMENT',
    /groupKey/,
    () => q.enqueue({}, { groupKey: 'a\ud800' }),
  ],
  [
    'lone surrogate in a dedup key',
    'INVALID_ARGUMENT',
    /dedup\.key/,
    () => q.enqueue({}, { dedup: { key: '\udc00b' } }),
  ],
  [
    'lone surrogate in an idempotency key',
    'INVALID_ARGUMENT',
    /idempotencyKey/,
    () => q.enqueue({}, { idempotencyKey: '\ud83d' }),
  ],
  // numbers and time
  ['negative delay', 'INVALID_ARGUMENT', /delayMs/, () => q.enqueue({}, { delayMs: -1 })],
  ['NaN delay', 'INVALID_ARGUMENT', /delayMs/, () => q.enqueue({}, { delayMs: NaN })],
  ['infinite delay', 'INVALID_ARGUMENT', /delayMs/, () => q.enqueue({}, { delayMs: Infinity })],
  [
    'delay over 100 years',
    'INVALID_ARGUMENT',
    /delayMs/,
    () => q.enqueue({}, { delayMs: 101 * 365 * 86_400_000 }),
  ],
  ['invalid Date', 'INVALID_ARGUMENT', /runAt/, () => q.enqueue({}, { runAt: new Date('nope') })],
  [
    'both delayMs and runAt',
    'INVALID_ARGUMENT',
    /runAt/,
    () => q.enqueue({}, { runAt: new Date(), delayMs: 1 }),
  ],
  ['priority out of range', 'INVALID_ARGUMENT', /priority/, () => q.enqueue({}, { priority: 40_000 })],
  ['fractional priority', 'INVALID_ARGUMENT', /priority/, () => q.enqueue({}, { priority: 1.5 })],
  ['maxAttempts 0', 'INVALID_ARGUMENT', /maxAttempts/, () => q.enqueue({}, { maxAttempts: 0 })],
  ['maxAttempts -1', 'INVALID_ARGUMENT', /maxAttempts/, () => q.enqueue({}, { maxAttempts: -1 })],
  ['maxAttempts 1.5', 'INVALID_ARGUMENT', /maxAttempts/, () => q.enqueue({}, { maxAttempts: 1.5 })],
  ['lease 0', 'INVALID_ARGUMENT', /leaseMs/, () => q.claim({ leaseMs: 0 })],
  ['negative lease', 'INVALID_ARGUMENT', /leaseMs/, () => q.claim({ leaseMs: -5 })],
  ['lease over 12 h', 'INVALID_ARGUMENT', /leaseMs/, () => q.claim({ leaseMs: 13 * 3_600_000 })],
  ['NaN lease extension', 'INVALID_ARGUMENT', /leaseMs/, () => q.extendLease(heldJob, NaN)],
  ['negative retry delay', 'INVALID_ARGUMENT', /delayMs/, () => q.retry(heldJob, { delayMs: -10 })],
  ['claim limit 0', 'INVALID_ARGUMENT', /limit/, () => q.claim({ limit: 0 })],
  ['claim limit over 10,000', 'INVALID_ARGUMENT', /limit/, () => q.claim({ limit: 10_001 })],
  ['batch size 0', 'INVALID_ARGUMENT', /batchSize/, () => q.claimBatched({ batchSize: 0, maxBatches: 1 })],
  // ids and structure
  ['malformed job id', 'INVALID_ARGUMENT', /id/, () => q.ack({ id: '12; DROP TABLE x', attempts: 1 })],
  ['negative job id', 'INVALID_ARGUMENT', /id/, () => q.ack({ id: -4, attempts: 1 })],
  ['attempts 0 in a fence', 'INVALID_ARGUMENT', /attempts/, () => q.ack({ id: heldJob.id, attempts: 0 })],
  ['malformed parent id', 'INVALID_ARGUMENT', /parentId/, () => q.enqueue({}, { parentId: 'abc' })],
  [
    'child of a missing parent',
    'PARENT_NOT_FOUND',
    /parentId/,
    () => q.enqueue({}, { parentId: '987654321' }),
  ],
  [
    'batch over 10,000 items',
    'BATCH_TOO_LARGE',
    /items/,
    () => q.enqueueMany(Array.from({ length: 10_001 }, () => ({ payload: 1 }))),
  ],
  [
    'batch with one bad item',
    'PAYLOAD_NOT_SERIALIZABLE',
    /payload/,
    () => q.enqueueMany([{ payload: 1 }, { payload: NaN }]),
  ],
  [
    'batch item without payload',
    'INVALID_ARGUMENT',
    /items\[1\]/,
    () => q.enqueueMany([{ payload: 1 }, {} as never]),
  ],
  [
    'unknown option key (typo)',
    'INVALID_ARGUMENT',
    /groupkey/,
    () => q.enqueue({}, { groupkey: 'g' } as never),
  ],
  ['unknown claim option', 'INVALID_ARGUMENT', /lease/, () => q.claim({ lease: 5 } as never)],
  ['dedup without key', 'INVALID_ARGUMENT', /dedup.key/, () => q.enqueue({}, { dedup: {} as never })],
  [
    'unknown dedup mode',
    'INVALID_ARGUMENT',
    /dedup.mode/,
    () => q.enqueue({}, { dedup: { key: 'k', mode: 'merge' as never } }),
  ],
  [
    'idempotency key with replace',
    'INVALID_ARGUMENT',
    /idempotencyKey/,
    () => q.enqueue({}, { idempotencyKey: 'i', dedup: { key: 'k', mode: 'replace' } }),
  ],
  [
    'tree child with its own parentId',
    'INVALID_ARGUMENT',
    /parentId/,
    () => q.enqueueTree({ payload: 1, children: [{ payload: 2, options: { parentId: '1' } }] }),
  ],
  [
    'tree node with dedup',
    'INVALID_ARGUMENT',
    /dedup/,
    () => q.enqueueTree({ payload: 1, options: { dedup: { key: 'k' } } as never }),
  ],
  // configuration
  [
    'malformed DATABASE_URL',
    'INVALID_ARGUMENT',
    /connectionString/,
    async () => new Arbiter({ connectionString: 'mysql://x' }),
  ],
  [
    'pool size 0',
    'INVALID_ARGUMENT',
    /poolSize/,
    async () => new Arbiter({ connectionString: 'postgres://x', poolSize: 0 }),
  ],
  [
    'conflicting connection options',
    'INVALID_ARGUMENT',
    /options/,
    async () => new Arbiter({ connectionString: 'postgres://x', pool: t.pool }),
  ],
  ['unknown queue', 'QUEUE_NOT_FOUND', /no_such_queue/, () => t.arbiter.queue('no_such_queue').enqueue({})],
];

describe('bad input gets a typed error and writes nothing', () => {
  it('has at least 50 cases', () => expect(cases.length).toBeGreaterThanOrEqual(50));

  it.each(cases)('%s', async (_name, code, field, run) => {
    const before = await checksum();
    let error: unknown;
    try {
      await run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArbiterError);
    expect((error as ArbiterError).code).toBe(code);
    expect((error as Error).message).toMatch(field);
    expect(await checksum()).toBe(before);
  });

  it('never echoes a password from a malformed connection string', () => {
    let message = '';
    try {
      new Arbiter({ connectionString: 'mysql://admin:hunter2@db.example/x' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/connectionString/);
    expect(message).not.toContain('hunter2');
  });

  it('double ack and ack after lease loss return 0 and change nothing', async () => {
    await q.enqueue({ x: 1 });
    const jobs = await q.claim({ limit: 5 });
    const job = jobs.find((j) => (j.payload as { x?: number }).x === 1)!;
    expect(await q.ack(job)).toBe(1);
    const before = await checksum();
    expect(await q.ack(job)).toBe(0);
    expect(await q.ack({ id: heldJob.id, attempts: heldJob.attempts + 7 })).toBe(0);
    expect(await checksum()).toBe(before);
  });
});
