import { describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { useTestDb, uniqueName } from '../support/db.js';
import { DEFAULT_RETENTION } from '../../src/core/retention.js';

const db = useTestDb();

describe('arbiter.getQueue', () => {
  it('returns one queue, its paused state, or null, without listing them all', async () => {
    await db.arbiter.createQueue('lookup_a');
    await db.arbiter.createQueue('lookup_b');
    await db.arbiter.pauseQueue('lookup_b');
    const a = await db.arbiter.getQueue('lookup_a');
    expect(a).toEqual({
      name: 'lookup_a',
      paused: false,
      createdAt: expect.any(Date),
      retention: DEFAULT_RETENTION,
    });
    expect(await db.arbiter.getQueue('lookup_b')).toMatchObject({ name: 'lookup_b', paused: true });
    expect(await db.arbiter.getQueue('lookup_c')).toBeNull();
    const listed = (await db.arbiter.listQueues()).find((q) => q.name === 'lookup_a');
    expect(a).toEqual(listed);
  });

  it('validates the name before any I/O', async () => {
    await expect(db.arbiter.getQueue("x' OR 1=1 --")).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(db.arbiter.getQueue('')).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
  });
});

describe('arbiter.listWorkers', () => {
  it('lists the registered workers with their queues and heartbeats, by id', async () => {
    expect(await db.arbiter.listWorkers()).toEqual([]);
    await db.pool.query(
      `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid) VALUES ('w-b', '{a,b}', 'h2', 2), ('w-a', '{a}', 'h1', 1)`,
    );
    const workers = await db.arbiter.listWorkers();
    expect(workers).toEqual([
      {
        id: 'w-a',
        queues: ['a'],
        hostname: 'h1',
        pid: 1,
        startedAt: expect.any(Date),
        lastHeartbeat: expect.any(Date),
        info: null, // a row without what the worker runs (as an older worker writes it)
      },
      expect.objectContaining({ id: 'w-b', queues: ['a', 'b'], hostname: 'h2', pid: 2 }),
    ]);
    await db.pool.query(`DELETE FROM "${db.schema}"._workers`);
  });

  it('says when the schema is not migrated, instead of a raw relation error', async () => {
    const bare = new Arbiter({ pool: db.pool, schema: uniqueName('bare') });
    await expect(bare.listWorkers()).rejects.toMatchObject({ code: 'SCHEMA_NOT_MIGRATED' });
  });
});
