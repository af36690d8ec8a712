// Database outages: failing claims and maintenance rounds back off exponentially instead of retrying at
// the poll or maintenance pace, and the worker still resumes by itself (at once when a NOTIFY shows the
// database is back). The worker reaches PostgreSQL through a TCP proxy that can cut every connection and
// refuse new ones. Errors are not rate-limited here (errorIntervalMs: 0), so each failed attempt is one
// `error` event of its context.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, type Job } from '../../src/index.js';
import type { Worker } from '../../src/worker/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startProxy, type Proxy } from '../support/proxy.js';
import { sleep, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

let proxy: Proxy;
/** An Arbiter on the test schema whose every connection goes through the proxy. */
let proxied: Arbiter;

beforeAll(async () => {
  proxy = await startProxy(databaseUrl());
  proxied = new Arbiter({ connectionString: proxy.url, schema: t.schema, poolSize: 4 });
});
afterEach(async () => {
  proxy.up();
  await stopAll();
});
afterAll(async () => {
  await proxied?.close();
  await proxy?.close();
});

/** Counts `error` events per context (each is one failed attempt: errors are not rate-limited here). */
function countErrors(worker: Worker): Map<string, number> {
  const counts = new Map<string, number>();
  worker.on('error', (e) => counts.set(e.context, (counts.get(e.context) ?? 0) + 1 + (e.suppressed ?? 0)));
  return counts;
}

async function startOutageWorker(
  queue: string,
  done: number[],
  options: Record<string, unknown>,
): Promise<{ worker: Worker; errors: Map<string, number> }> {
  const worker = await startWorker(proxied, {
    errorIntervalMs: 0,
    ...options,
    queues: { [queue]: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
  });
  return { worker, errors: countErrors(worker) };
}

describe('outage backoff', () => {
  it('an outage costs few claim and maintenance attempts, and the worker resumes once it ends', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('outage');
    const done: number[] = [];
    // Everything goes through the proxy: claims, LISTEN and the maintenance leader's connection.
    const { worker, errors } = await startOutageWorker('outage', done, {
      pollIntervalMs: 100,
      maintenanceIntervalMs: 200,
    });
    await q.enqueue({ n: 1 });
    await waitFor(() => done.includes(1), 'job before the outage', 5_000);
    await waitFor(() => worker.isLeader, 'maintenance leadership', 5_000);

    errors.clear();
    proxy.down();
    const outageMs = 7_000;
    await sleep(outageMs);
    const claims = errors.get('fetcher:claim:outage') ?? 0;
    const rounds = errors.get('maintenance') ?? 0;
    proxy.up();
    const back = performance.now();
    await q.enqueue({ n: 2 });
    await waitFor(() => done.includes(2), 'job after the outage', 20_000);
    const resumeMs = performance.now() - back;

    // At the poll pace that would be ~70 claims, and ~35 rounds at the maintenance interval. Backing off
    // from 100 ms (claims, up to 2 s) and 200 ms (rounds), doubling each time, it is about 8 and 6.
    expect(claims).toBeGreaterThanOrEqual(3);
    expect(claims).toBeLessThanOrEqual(15);
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(rounds).toBeLessThanOrEqual(12);
    // At worst one backoff step (here ≤ 2 s) after the outage, or sooner when LISTEN reconnects: a worker
    // claims again within 5 s of the database's return (the bound has room here for a starved machine).
    expect(resumeMs).toBeLessThan(8_000);
    console.log(
      `[outage ${outageMs} ms] ${claims} claims, ${rounds} maintenance rounds; resumed in ${Math.round(resumeMs)} ms`,
    );
  });

  it('a NOTIFY ends the backoff: claiming resumes at once when the database answers again', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('notified');
    const done: number[] = [];
    // Claims go through the proxy; LISTEN connects directly, so it stays up and hears the NOTIFY.
    // A long poll interval lets the waits grow to 8 s (the cap is twice the interval), so that a prompt
    // resumption can only be the NOTIFY's doing.
    const { errors } = await startOutageWorker('notified', done, {
      connectionString: databaseUrl(),
      maintenance: false,
      pollIntervalMs: 5_000,
    });
    await q.enqueue({ n: 1 });
    await waitFor(() => done.includes(1), 'job before the outage', 5_000);

    proxy.down();
    await waitFor(() => (errors.get('fetcher:claim:notified') ?? 0) > 0, 'first failed claim', 5_000);
    // Retries after about 1, 2, 4, 8 s (at least 0.75, 1.5, 3, 6 s with jitter): once the third claim
    // has failed, the next is due no sooner than 3 s later, so a resumption before that is the NOTIFY's.
    await waitFor(() => (errors.get('fetcher:claim:notified') ?? 0) >= 3, 'third failed claim', 15_000, 5);
    const claims = errors.get('fetcher:claim:notified') ?? 0;
    proxy.up();
    const back = performance.now();
    await q.enqueue({ n: 2 });
    await waitFor(() => done.includes(2), 'job after the outage', 10_000);
    const resumeMs = performance.now() - back;

    console.log(`[claims cut, LISTEN up] ${claims} claims; resumed on NOTIFY in ${Math.round(resumeMs)} ms`);
    expect(claims).toBeLessThanOrEqual(6);
    expect(resumeMs).toBeLessThan(2_500);
  });

  // That NOTIFYs during an outage do not set the pace of failing claims (a wake-up ends a wait, but not
  // twice in a row) is a rule of the fetcher's, tested on a fake clock in fetcher-rules.test.ts.

  it('stopping while backing off is prompt and leaves no retry behind', async () => {
    await t.arbiter.createQueue<{ n: number }>('stopping');
    const done: number[] = [];
    const { worker, errors } = await startOutageWorker('stopping', done, {
      connectionString: databaseUrl(),
      maintenance: false,
      pollIntervalMs: 100,
    });
    proxy.down();
    // Several failures in, the next retry is seconds away.
    await waitFor(() => (errors.get('fetcher:claim:stopping') ?? 0) >= 5, 'failing claims', 10_000);
    const started = performance.now();
    await worker.stop({ timeoutMs: 500 });
    expect(performance.now() - started).toBeLessThan(3_000);
    // That no backoff timer is left behind is a rule of the fetcher's, tested on a fake clock
    // (fetcher-rules.test.ts: stop leaves no timer).
  });
});
