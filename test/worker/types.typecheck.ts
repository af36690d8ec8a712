// Compile-time checks (tsc --noEmit covers test/): payload types flow from a queue's schema to the
// handler and to enqueue. Never executed.
import { z } from 'zod';
import type { Arbiter, Job } from '../../src/index.js';
import { createWorker, defineQueue } from '../../src/worker/index.js';

export function typeChecks(arbiter: Arbiter): void {
  const schema = z.object({ to: z.string() }).transform((v) => ({ upper: v.to.toUpperCase() }));
  createWorker({
    arbiter,
    queues: {
      withSchema: {
        schema,
        handler: async (job) => {
          const upper: string = job.payload.upper;
          // @ts-expect-error the handler sees the schema's output, not its input
          void job.payload.to;
          return upper;
        },
      },
      annotated: { handler: async (job: Job<{ n: number }>) => job.payload.n * 2 },
    },
  });
  const mail = defineQueue(arbiter, 'mail', { schema });
  void mail.enqueue({ to: 'x' });
  // @ts-expect-error enqueue takes the schema's input
  void mail.enqueue({ too: 'x' });
  createWorker({
    arbiter,
    queues: {
      mail: mail.handle({
        handler: async (job) => {
          const upper: string = job.payload.upper;
          return upper;
        },
      }),
    },
  });
}
