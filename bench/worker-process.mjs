// One worker process for the scaling workload of bench/run.mjs: the default configuration (concurrency
// 16, nothing tuned) on queue `q` of the schema given as argv[2]. Prints "ready" once claiming; stops
// gracefully on SIGTERM.
import { Arbiter } from '../dist/index.js';
import { createWorker } from '../dist/worker/index.js';

const arbiter = new Arbiter({ connectionString: process.env.DATABASE_URL, schema: process.argv[2] });
const worker = createWorker({ arbiter, concurrency: 16, queues: { q: { handler: async () => {} } } });
await worker.start();
console.log('ready');
await worker.wait();
await arbiter.close();
