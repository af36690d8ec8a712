import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';

const t = useTestDb({ poolSize: 8 });

const ITERATIONS = 150;

describe('flows under races', () => {
  it('two dependencies finishing at the same instant release their dependent exactly once', async () => {
    const a = await t.arbiter.createQueue<{ i: number }>('race_a');
    const b = await t.arbiter.createQueue<{ i: number }>('race_b');
    const c = await t.arbiter.createQueue<{ i: number }>('race_c');
    // Every release of a suspended job of race_c is logged, so a second release would show.
    await t.pool.query(`CREATE TABLE "${t.schema}".release_log (id bigint NOT NULL)`);
    await t.pool.query(`CREATE FUNCTION "${t.schema}".log_release() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${t.schema}".release_log VALUES (NEW.id); RETURN NULL; END $$`);
    await t.pool.query(`CREATE TRIGGER log_release AFTER UPDATE ON "${t.schema}".race_c FOR EACH ROW
      WHEN (OLD.suspended AND NOT NEW.suspended) EXECUTE FUNCTION "${t.schema}".log_release()`);

    const dependents: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const flow = await t.arbiter.flow({
        nodes: {
          left: { queue: a, payload: { i } },
          right: { queue: b, payload: { i } },
          join: { queue: c, payload: { i }, dependsOn: ['left', 'right'] },
        },
      });
      dependents.push(flow.jobs.join.id);
      const [left] = await a.claim();
      const [right] = await b.claim();
      expect(left!.id).toBe(flow.jobs.left.id);
      expect(right!.id).toBe(flow.jobs.right.id);
      // Nothing of race_c is claimable before both finished.
      expect(await c.claim()).toEqual([]);
      // Both acks on their own connections at once.
      const [x, y] = await Promise.all([a.ack(left!, { result: i }), b.ack(right!, { result: -i })]);
      expect([x, y]).toEqual([1, 1]);
      const claimed = await c.claim({ limit: 5 });
      expect(claimed.map((j) => j.id)).toEqual([flow.jobs.join.id]);
      expect(await c.ack(claimed[0]!)).toBe(1);
    }
    const { rows } = await t.pool.query<{ id: string; n: string }>(
      `SELECT id::text AS id, count(*)::text AS n FROM "${t.schema}".release_log GROUP BY id`,
    );
    expect(rows).toHaveLength(ITERATIONS);
    expect(rows.every((r) => r.n === '1')).toBe(true);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(dependents));
    const states = await t.pool.query<{ state: string; n: string }>(
      `SELECT state, count(*)::text AS n FROM "${t.schema}"._tracked_jobs GROUP BY state`,
    );
    expect(states.rows).toEqual([{ state: 'succeeded', n: String(3 * ITERATIONS) }]);
  });

  it('concurrent flows finishing dependencies through many connections never lose or double a release', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('race_many');
    const flows = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.arbiter.flow({
          nodes: {
            d1: { queue: q, payload: { i } },
            d2: { queue: q, payload: { i } },
            d3: { queue: q, payload: { i } },
            join: { queue: q, payload: { i }, dependsOn: ['d1', 'd2', 'd3'] },
          },
        }),
      ),
    );
    const joins = new Set(flows.map((f) => f.jobs.join.id));
    const done = new Set<string>();
    // Four claimers acking as fast as they can: every join must come out exactly once, after its three.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let idle = 0; idle < 50 && done.size < flows.length * 4;) {
          const jobs = await q.claim({ limit: 3 });
          if (jobs.length === 0) {
            idle++;
            await new Promise((r) => setImmediate(r));
            continue;
          }
          idle = 0;
          for (const j of jobs) {
            if (joins.has(j.id)) {
              const f = flows.find((fl) => fl.jobs.join.id === j.id)!;
              // Its release committed with the last dependency's success: all three are recorded succeeded.
              const deps = (['d1', 'd2', 'd3'] as const).map((n) => f.jobs[n].id);
              const { rows } = await t.pool.query<{ n: string }>(
                `SELECT count(*)::text AS n FROM "${t.schema}"._tracked_jobs
                 WHERE queue = 'race_many' AND job_id = ANY($1::bigint[]) AND state = 'succeeded'`,
                [deps],
              );
              expect(rows[0]!.n).toBe('3');
            }
            expect(done.has(j.id)).toBe(false);
            expect(await q.ack(j)).toBe(1);
            done.add(j.id);
          }
        }
      }),
    );
    expect(done.size).toBe(flows.length * 4);
  });
});
