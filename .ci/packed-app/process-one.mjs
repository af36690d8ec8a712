// Run by .ci/packed in a scratch app with the packed tarball installed: imports every entry point of the
// package, then enqueues one job and processes it with a worker, on the schema `arbiter migrate` made.
import { Arbiter } from 'pg-arbiter';
import { createWorker } from 'pg-arbiter/worker';

for (const entry of ['http', 'metrics', 'tracing', 'testing']) {
  const mod = await import(`pg-arbiter/${entry}`);
  if (Object.keys(mod).length === 0) throw new Error(`pg-arbiter/${entry} exports nothing`);
}

const arbiter = new Arbiter({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.ARBITER_SCHEMA,
});
const queue = await arbiter.createQueue('scratch');
const token = `${process.version}:${process.pid}`;
let processed;
const done = new Promise((resolve) => (processed = resolve));
const worker = createWorker({
  arbiter,
  handleSignals: false,
  queues: { scratch: { handler: async (job) => job.payload.token === token && processed(job.id) } },
});
await worker.start();
const job = await queue.enqueue({ token });
const timeout = setTimeout(() => {
  console.error(`job ${job.id} was not processed within 30 s`);
  process.exit(1);
}, 30_000);
const id = await done;
await worker.stop();
// The worker's acknowledgement is written when it stops at the latest: the job is gone.
if ((await queue.jobs.get(job.id)) !== null) throw new Error(`job ${job.id} is still in the queue`);
clearTimeout(timeout);
await arbiter.close();
console.log(`node ${process.version}: enqueued and processed job ${id}`);
