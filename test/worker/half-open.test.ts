import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startProxy, type Proxy } from '../support/proxy.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

let proxy: Proxy | undefined;
afterEach(stopAll);
afterAll(async () => {
  await proxy?.close();
});

describe('half-open LISTEN connection', () => {
  it('a blackholed LISTEN connection is detected by the health check and replaced within a second', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('halfopen');
    proxy = await startProxy(databaseUrl());
    const done: number[] = [];
    const reconnected: number[] = [];
    const w = await startWorker(t.arbiter, {
      connectionString: proxy.url,
      maintenance: false,
      pollIntervalMs: 10_000,
      listenerCheckIntervalMs: 200,
      listenerCheckTimeoutMs: 200,
      queues: { halfopen: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    w.on('listener:reconnected', () => reconnected.push(Date.now()));
    // LISTEN is issued before the listener's pid is known.
    await waitFor(() => w.listenerPid !== null, 'listening through the proxy');
    await q.enqueue({ n: 1 });
    await waitFor(() => done.includes(1), 'notified through the proxy', 4_000);

    const before = w.listenerPid;
    proxy.blackhole();
    const t0 = Date.now();
    await waitFor(() => reconnected.length > 0, 'reconnected', 3_000);
    expect(reconnected[0]! - t0).toBeLessThan(1_000);
    await waitFor(() => w.listenerPid !== null, 'listening on the new connection');
    expect(w.listenerPid).not.toBe(before);
    await q.enqueue({ n: 2 });
    await waitFor(() => done.includes(2), 'notified on the new connection', 4_000);
  });
});
