import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';
import { DEFAULT_RETENTION } from '../../src/index.js';

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
