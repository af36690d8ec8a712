// Compile-time checks (tsc --noEmit covers test/): a flow's payloads are checked against its typed
// queues, dependsOn against its node names, and its results and awaited results are typed. Never executed.
import type { Arbiter, Queue } from '../../src/index.js';

export async function flowTypeChecks(
  arbiter: Arbiter,
  stock: Queue<{ sku: string }, { reserved: number }>,
  pay: Queue<{ cents: number }, { chargeId: string }>,
): Promise<void> {
  const flow = await arbiter.flow({
    nodes: {
      reserve: { queue: stock, payload: { sku: 'a' } },
      charge: { queue: pay, payload: { cents: 5 }, dependsOn: ['reserve'] },
      note: { queue: 'notes', payload: 'anything', dependsOn: ['reserve', 'charge'] },
    },
  });
  const results = await flow.result();
  const reserved: number = results.reserve.reserved;
  const chargeId: string = results.charge.chargeId;
  // @ts-expect-error a node's result has its queue's result type
  const wrong: string = results.reserve.reserved;
  void [reserved, chargeId, wrong, flow.jobs.charge.payload.cents];

  await arbiter.flow({
    nodes: {
      // @ts-expect-error the payload must be the queue's payload type
      reserve: { queue: stock, payload: { cents: 5 } },
    },
  });
  await arbiter.flow({
    nodes: {
      reserve: { queue: stock, payload: { sku: 'a' } },
      // @ts-expect-error dependsOn names only nodes of the flow
      charge: { queue: pay, payload: { cents: 5 }, dependsOn: ['nope'] },
    },
  });

  const handle = await stock.enqueue({ sku: 'b' }, { result: true });
  const value: { reserved: number } = await handle.result({ timeoutMs: 1000 });
  const plain = await stock.enqueue({ sku: 'c' });
  // @ts-expect-error without `result` an enqueue returns the job (or null), with no result()
  void plain!.result;
  void value;
}
