// Adapter for ../shared/bench/peers (SYSTEM=ours): the default configuration, nothing tuned.
// Imports the built package, so run `npm run build` first (npm run bench does).
import { Arbiter } from '../dist/index.js';
import { createWorker } from '../dist/worker/index.js';

export default async function ({ connectionString, schema, concurrency }) {
  const arbiter = new Arbiter({ connectionString, schema });
  await arbiter.migrate();
  const q = await arbiter.createQueue('q');
  let worker;
  return {
    enqueueBatch: (payloads) => q.enqueueManyCount(payloads.map((payload) => ({ payload }))),
    enqueueOne: (payload) => q.enqueue(payload),
    async startWorker(onJob) {
      worker = createWorker({
        arbiter,
        concurrency,
        handleSignals: false,
        queues: { q: { handler: async (job) => onJob(job.payload) } },
      });
      await worker.start();
    },
    remaining: () => q.jobs.count(),
    async stop() {
      await worker?.stop({ timeoutMs: 2000 });
      await arbiter.close();
    },
  };
}
