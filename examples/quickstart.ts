// A complete round trip: migrate, create a queue, enqueue (single, grouped, a tree), claim, ack.
// Uses DATABASE_URL when set, otherwise starts an embedded PostgreSQL for the run.
import { Arbiter } from '../src/index.js';
import { startEmbeddedPostgres } from '../src/testing/embedded.js';

interface Email {
  to: string;
  subject: string;
}

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
const arbiter = new Arbiter({ connectionString: process.env.DATABASE_URL ?? embedded!.connectionString });

try {
  await arbiter.migrate();
  const emails = await arbiter.createQueue<Email>('emails');

  await emails.enqueue({ to: 'ada@example.com', subject: 'Welcome' });
  // Jobs sharing a group key run one at a time, in order.
  await emails.enqueueMany([
    { payload: { to: 'bob@example.com', subject: 'Order placed' }, groupKey: 'customer-42' },
    { payload: { to: 'bob@example.com', subject: 'Order shipped' }, groupKey: 'customer-42' },
  ]);
  // A parent that runs after its children, receiving their results.
  await emails.enqueueTree({
    payload: { to: 'ops@example.com', subject: 'Daily digest' },
    rollup: true,
    children: [
      { payload: { to: 'ops@example.com', subject: 'part 1' } },
      { payload: { to: 'ops@example.com', subject: 'part 2' } },
    ],
  });

  for (let round = 1; ; round++) {
    const jobs = await emails.claim({ limit: 10, leaseMs: 30_000 });
    if (jobs.length === 0) break;
    for (const job of jobs) {
      console.log(
        `round ${round}: job ${job.id} (attempt ${job.attempts}) → ${job.payload.to}: ${job.payload.subject}`,
      );
      await emails.ack(job, job.parentId ? { result: { sent: true } } : {});
    }
  }
  console.log('all jobs done; jobs left in the queue:', await emails.jobs.count());
} finally {
  await arbiter.close();
  await embedded?.stop();
}
