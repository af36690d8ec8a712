// A lease extension that never answers (half-open connection: no error, no reply) must not let a handler
// run on past its lease: the heartbeat aborts it before the lease can expire, as it does when extensions fail.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Arbiter, type Job } from '../../src/index.js';
import type { JobAbortError } from '../../src/worker/runner.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startProxy, type Proxy } from '../support/proxy.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

let proxy: Proxy | undefined;
let viaProxy: Arbiter | undefined;
afterEach(async () => {
  await proxy?.close(); // unblocks the worker's hung queries so it can stop
  await stopAll();
});
afterAll(async () => {
  await viaProxy?.close();
});

describe('hung lease extension', () => {
  // Timing-bound (the abort must beat a 900 ms lease): on a CI machine running every test file at once,
  // one starved attempt may miss it, so it gets a second chance.
  it(
    'aborts the handler before its lease runs out when the heartbeat gets no answer',
    { retry: 2 },
    async () => {
      const leaseMs = 900;
      await t.arbiter.createQueue('hung');
      proxy = await startProxy(databaseUrl());
      viaProxy = new Arbiter({ connectionString: proxy.url, schema: t.schema, poolSize: 4 });
      let started = false;
      let aborted: { at: number; reason: unknown } | undefined;
      await startWorker(viaProxy, {
        listen: false,
        maintenance: false,
        queues: {
          hung: {
            leaseMs,
            handler: async (_job: Job, ctx) => {
              started = true;
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, 10_000);
                ctx.signal.addEventListener('abort', () => {
                  aborted = { at: performance.now(), reason: ctx.signal.reason };
                  clearTimeout(timer);
                  resolve();
                });
              });
            },
          },
        },
      });
      await t.arbiter.queue('hung').enqueue({});
      await waitFor(() => started, 'job started', 5_000);
      await new Promise((r) => setTimeout(r, leaseMs)); // a few extensions go through first
      expect(aborted).toBeUndefined();
      proxy.blackhole();
      const cutAt = performance.now();
      await waitFor(() => aborted, 'handler aborted', 5_000);
      expect((aborted!.reason as JobAbortError).reason).toBe('lease-lost');
      // Before the lease (last confirmed no later than the cut) could have run out.
      expect(aborted!.at - cutAt).toBeLessThan(leaseMs);
    },
  );
});
