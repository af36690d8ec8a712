import type { Job } from '../../src/index.js';
import type { TestDb } from './db.js';

type Named = { readonly name: string };

/** Raw reads and writes for dead-letter tests, straight on the test pool. */
export function dlqHelpers(t: TestDb) {
  const table = (q: Named, suffix = '') => `"${t.schema}"."${q.name}${suffix}"`;
  return {
    async jobRow(q: Named, id: string) {
      const { rows } = await t.pool.query(`SELECT * FROM ${table(q)} WHERE id = $1`, [id]);
      return rows[0] as
        | {
            suspended: boolean;
            leased_until: Date | null;
            attempts: number;
            run_at: Date;
            parent_state: unknown;
          }
        | undefined;
    },
    async jobCount(q: Named): Promise<number> {
      const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM ${table(q)}`);
      return rows[0].n as number;
    },
    async dlqRows(q: Named) {
      const { rows } = await t.pool.query(
        `SELECT id::text, job_id::text, parent_id::text, last_error, parent_state FROM ${table(q, '_dlq')} ORDER BY job_id`,
      );
      return rows as {
        id: string;
        job_id: string;
        parent_id: string | null;
        last_error: string;
        parent_state: unknown;
      }[];
    },
    /** Lets a claimed job's lease run out (run_at follows the lease, as the claim sets it). */
    async expireLease(q: Named, id: string, extra = '') {
      await t.pool.query(
        `UPDATE ${table(q)} SET leased_until = now() - interval '1 second', run_at = now() - interval '1 second'${extra}
         WHERE id = $1`,
        [id],
      );
    },
    async deleteJobRaw(q: Named, id: string) {
      await t.pool.query(`DELETE FROM ${table(q)} WHERE id = $1`, [id]);
    },
    /**
     * Records every wake (suspended → not suspended) of the queue's jobs, so tests can assert that a
     * parent was woken exactly once. Returns a reader: job id → number of wakes.
     */
    async trackWakes(q: Named): Promise<() => Promise<Map<string, number>>> {
      const log = `"${t.schema}"."_wakes_${q.name}"`;
      const fn = `"${t.schema}"."_wakes_${q.name}_fn"`;
      await t.pool.query(`CREATE TABLE ${log} (job_id bigint NOT NULL)`);
      await t.pool.query(
        `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO ${log} VALUES (NEW.id); RETURN NULL; END $$`,
      );
      await t.pool.query(
        `CREATE TRIGGER "_wakes" AFTER UPDATE ON ${table(q)} FOR EACH ROW
         WHEN (OLD.suspended AND NOT NEW.suspended) EXECUTE FUNCTION ${fn}()`,
      );
      return async () => {
        const { rows } = await t.pool.query(
          `SELECT job_id::text AS id, count(*)::int AS n FROM ${log} GROUP BY job_id`,
        );
        return new Map(rows.map((r: { id: string; n: number }) => [r.id, r.n]));
      };
    },
  };
}

export function byId<T>(jobs: Job<T>[], id: string): Job<T> {
  const j = jobs.find((x) => x.id === id);
  if (!j) throw new Error(`job ${id} not claimed`);
  return j;
}
