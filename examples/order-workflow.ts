// An order as one durable job: reserve stock, charge, wait for the shipping event (with a timeout), then
// notify the customer through a job on another queue whose result the order awaits. Each finished step
// is stored, so a crash or a retry never reserves or charges twice; while the order waits it holds no
// worker slot. Uses DATABASE_URL when set (and ARBITER_SCHEMA, default "order_example"), otherwise starts
// an embedded PostgreSQL for the run. Run with: npx tsx examples/order-workflow.ts
import { Arbiter, WaitTimeoutError, type Job } from '../src/index.js';
import { startEmbeddedPostgres } from '../src/testing/embedded.js';
import { createWorker, type JobContext } from '../src/worker/index.js';

interface Order {
  orderId: string;
  sku: string;
  qty: number;
  cents: number;
}
interface Shipment {
  carrier: string;
  tracking: string;
}
interface Notice {
  orderId: string;
  text: string;
}

// Stand-ins for the outside world: each call is a side effect that must happen once per order.
const sideEffects: string[] = [];
const stock = {
  reserve: (o: Order) => (sideEffects.push(`reserve ${o.orderId}`), { reservation: `r-${o.orderId}` }),
  release: (o: Order) => (sideEffects.push(`release ${o.orderId}`), { released: true }),
};
const payments = {
  charge: (o: Order) => (sideEffects.push(`charge ${o.orderId}`), { charge: `ch-${o.orderId}` }),
};

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
const arbiter = new Arbiter({
  connectionString: process.env.DATABASE_URL ?? embedded!.connectionString,
  schema: process.env.ARBITER_SCHEMA ?? 'order_example',
});

async function handleOrder(job: Job<Order>, ctx: JobContext) {
  const order = job.payload;
  const { reservation } = await ctx.step('reserve stock', () => stock.reserve(order));
  const { charge } = await ctx.step('charge', () => payments.charge(order));
  let text: string;
  try {
    // Parks the job (no slot held, no attempt spent) until someone emits the event, or 2 s pass.
    const shipped = await ctx.waitFor<Shipment>(`shipped:${order.orderId}`, { timeoutMs: 2_000 });
    text = `order ${order.orderId} shipped with ${shipped.carrier} (${shipped.tracking})`;
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err; // parking ends the run by throwing: let it through
    await ctx.step('release stock', () => stock.release(order));
    text = `order ${order.orderId} is late: we are on it`;
  }
  // Runs a job on another queue and waits (parked) for its result.
  const sent = await ctx.run<{ sent: boolean }>('notifications', { orderId: order.orderId, text });
  return { reservation, charge, notified: sent.sent };
}

try {
  await arbiter.migrate();
  const orders = await arbiter.createQueue<Order>('orders');
  await arbiter.createQueue<Notice>('notifications');
  const worker = createWorker({
    arbiter,
    handleSignals: false,
    queues: {
      orders: { handler: handleOrder, keepProcessed: true },
      notifications: {
        handler: (job: Job<Notice>) => {
          console.log(`  notify: ${job.payload.text}`);
          return { sent: true };
        },
      },
    },
  });
  await worker.start();

  const fast = (await orders.enqueue({ orderId: 'A-1', sku: 'tea', qty: 2, cents: 1800 }))!;
  const slow = (await orders.enqueue({ orderId: 'A-2', sku: 'mug', qty: 1, cents: 900 }))!;
  // Both orders reach their wait; the shipping system (any process) then emits for A-1 only.
  for (const id of [fast.id, slow.id]) while ((await orders.jobs.waiting(id)) === null) await pause(50);
  console.log('why is A-1 not running?', (await orders.jobs.why(fast.id))!.reasons[0]!.text);
  const { released } = await arbiter.emit('shipped:A-1', { carrier: 'ups', tracking: '1Z999' });
  console.log(`emitted shipped:A-1, released ${released} job`);

  for (const id of [fast.id, slow.id]) while ((await orders.jobs.get(id)) !== null) await pause(50);
  await worker.stop();
  for (const job of [fast, slow]) {
    const steps = await orders.jobs.steps(job.id);
    console.log(
      `order ${job.payload.orderId} steps: ${steps.map((s) => `${s.name} (${s.kind})`).join(', ')}`,
    );
  }
  console.log('side effects, each once:', sideEffects.join(', '));
} finally {
  await arbiter.close();
  await embedded?.stop();
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
