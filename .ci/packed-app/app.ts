// Type-checked by .ci/packed against the declarations in the packed tarball, as an app would use them.
import pg from 'pg';
import { Arbiter, type Job } from 'pg-arbiter';
import { createWorker } from 'pg-arbiter/worker';

interface Email {
  to: string;
}

const pool = new pg.Pool({ connectionString: 'postgres://localhost/app' });
const arbiter = new Arbiter({ pool });
const emails = await arbiter.createQueue<Email>('emails');
const client = await pool.connect();
await client.query('BEGIN');
await emails.enqueue({ to: 'ada@example.com' }, { tx: client, delayMs: 1_000 });
await client.query('COMMIT');
client.release();

const worker = createWorker<{ emails: Email }>({
  arbiter,
  queues: {
    emails: {
      handler: async (job: Job<Email>, ctx) => {
        if (!job.payload.to.includes('@')) return ctx.fail('no address');
      },
    },
  },
});
await worker.start();

// The declarations carry pg's types (a missing @types/pg would make `pool` accept anything).
// @ts-expect-error a number is not a pg.Pool
new Arbiter({ pool: 42 });
