// An order as a flow: reserve stock and charge the card (after the reservation), then notify the customer
// once both succeeded. Every node is a job on its own queue; the notify handler reads the results of the
// nodes it depends on. Run: `npx tsx examples/order-flow.ts` (DATABASE_URL, or an embedded PostgreSQL).
// The shipping wait (ctx.waitFor) of the full example in docs/workflows.md belongs to durable steps.
import { Arbiter, JobFailedError } from '../src/index.js';
import { createWorker } from '../src/worker/index.js';
import { startEmbeddedPostgres } from '../src/testing/embedded.js';

interface Order {
  orderId: number;
  sku: string;
  cents: number;
}

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
const arbiter = new Arbiter({ connectionString: process.env.DATABASE_URL ?? embedded!.connectionString });

try {
  await arbiter.migrate();
  // The second type parameter is the handler's result: it types what `result()` resolves with.
  const stock = await arbiter.createQueue<Order, { reservationId: string }>('stock');
  const payments = await arbiter.createQueue<Order, { chargeId: string }>('payments');
  const notifications = await arbiter.createQueue<Order, string>('notifications');

  const worker = createWorker<{ stock: Order; payments: Order; notifications: Order }>({
    arbiter,
    handleSignals: false,
    queues: {
      stock: { handler: async (job) => ({ reservationId: `r-${job.payload.orderId}` }) },
      payments: {
        handler: async (job) => {
          // A node reads the outcome of the nodes it depends on, by node name.
          const deps = await arbiter.flows.dependencies(job);
          const reservation = deps.reserve!.value as { reservationId: string };
          return { chargeId: `c-${job.payload.orderId}-${reservation.reservationId}` };
        },
      },
      notifications: {
        handler: async (job) => {
          const deps = await arbiter.flows.dependencies(job);
          return `order ${job.payload.orderId} confirmed (${Object.keys(deps).join(' + ')} done)`;
        },
      },
    },
  });
  await worker.start();

  const order: Order = { orderId: 42, sku: 'tea-01', cents: 1250 };
  const flow = await arbiter.flow({
    name: `order ${order.orderId}`,
    nodes: {
      reserve: { queue: stock, payload: order },
      charge: { queue: payments, payload: order, dependsOn: ['reserve'] },
      notify: { queue: notifications, payload: order, dependsOn: ['reserve', 'charge'] },
    },
  });
  console.log(
    `flow ${flow.id}: jobs`,
    Object.fromEntries(Object.entries(flow.jobs).map(([k, j]) => [k, j.id])),
  );

  try {
    const results = await flow.result({ timeoutMs: 30_000 });
    // Typed from the queues: results.charge is { chargeId: string }.
    console.log('charge', results.charge.chargeId, '→', results.notify);
  } catch (err) {
    if (err instanceof JobFailedError) console.error(`node job ${err.jobId} ${err.state}: ${err.reason}`);
    else throw err;
  }
  const state = await arbiter.flows.get(flow.id);
  console.log(`flow ${state.id} ${state.state}:`, state.nodes.map((n) => `${n.name}=${n.state}`).join(' '));

  // A single job whose result is awaited, as a request/response over the queue.
  const handle = await stock.enqueue({ orderId: 43, sku: 'tea-02', cents: 900 }, { result: true });
  console.log('awaited', await handle.result({ timeoutMs: 30_000 }));
  await worker.stop();
} finally {
  await arbiter.close();
  await embedded?.stop();
}
