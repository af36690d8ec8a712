import type { Arbiter } from '../../client/arbiter.js';
import type { Queue } from '../../client/queue.js';
import type { WorkerOptions } from '../../worker/options.js';

// What the demo runs: enough steady, varied work that every page of the dashboard has something to show
// at any moment, not only in its first seconds. Per queue:
// - emails: per-customer FIFO groups with slow handlers, and bursts for one big customer, so groups are
//   busy and jobs wait behind their group's head; a few delayed reminders; one job held (suspended).
// - thumbnails: arrives faster than its two slots process it, topped up to a standing backlog.
// - flaky: failures that retry and recover, some that end as dead letters, and a partner whose jobs
//   always fail, so its group is held by a retry most of the time.
// - reports: a job tree with a rollup finalizer every minute; one section always fails.
// - imports: no worker serves it, so its jobs wait and "why isn't this running?" has an answer (and after a
//   minute the overview flags the queue).

export interface Email {
  to: string;
  subject: string;
}
export interface Thumbnail {
  image: string;
}
export interface Flaky {
  n: number;
  alwaysFail?: boolean;
}
export interface Report {
  section: string;
}
export interface Import {
  file: string;
}
// A type alias (not an interface), so it fits WorkerOptions' Record<string, unknown> without an index
// signature that would widen every queue's payload to unknown.
export type DemoPayloads = {
  emails: Email;
  thumbnails: Thumbnail;
  flaky: Flaky;
  reports: Report;
};

export interface DemoQueues {
  emails: Queue<Email>;
  thumbnails: Queue<Thumbnail>;
  flaky: Queue<Flaky>;
  reports: Queue<Report>;
  imports: Queue<Import>;
}

const CUSTOMERS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];
const SUBJECTS = ['Welcome', 'Order placed', 'Payment received', 'Order shipped', 'Delivered'];
const BACKLOG = 250;

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const between = (min: number, max: number) => min + Math.random() * (max - min);
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

export async function createDemoQueues(arbiter: Arbiter): Promise<DemoQueues> {
  return {
    emails: await arbiter.createQueue<Email>('emails'),
    thumbnails: await arbiter.createQueue<Thumbnail>('thumbnails'),
    flaky: await arbiter.createQueue<Flaky>('flaky'),
    reports: await arbiter.createQueue<Report>('reports'),
    imports: await arbiter.createQueue<Import>('imports'),
  };
}

/** The worker's queues: every demo queue but `imports`, which nobody serves. */
export function demoHandlers(): WorkerOptions<DemoPayloads>['queues'] {
  return {
    emails: {
      concurrency: 4,
      handler: async (_job, ctx) => sleep(between(300, 1200), ctx.signal),
    },
    thumbnails: {
      concurrency: 2,
      handler: async (_job, ctx) => sleep(between(400, 800), ctx.signal),
    },
    flaky: {
      handler: async (job, ctx) => {
        await sleep(between(20, 80), ctx.signal);
        if (job.payload.alwaysFail) throw new Error(`upstream rejected request ${job.payload.n}`);
        if (job.attempts === 1 && Math.random() < 0.3) throw new Error('connection reset by peer');
      },
      backoff: { type: 'exponential', baseMs: 2_000, factor: 2, maxMs: 20_000 },
    },
    reports: {
      handler: async (job, ctx) => {
        await sleep(between(50, 150), ctx.signal);
        if (ctx.children.size > 0) {
          const ok = [...ctx.children.values()].filter((o) => o.ok).length;
          return ctx.done({ sections: ctx.children.size, ok, failed: ctx.children.size - ok });
        }
        if (job.payload.section === 'broken') throw new Error('section source unavailable');
        return ctx.done({ section: job.payload.section, words: Math.round(Math.random() * 1000) });
      },
      maxAttempts: 2,
      backoff: { type: 'linear', delayMs: 1_000 },
    },
  };
}

/** The first minute's worth of state, before the trickle takes over. */
export async function seedDemo(q: DemoQueues): Promise<void> {
  await q.emails.enqueueMany(
    Array.from({ length: 30 }, (_, i) => ({
      payload: { to: `${CUSTOMERS[i % CUSTOMERS.length]}@example.com`, subject: pick(SUBJECTS) },
      groupKey: `customer-${CUSTOMERS[i % CUSTOMERS.length]}`,
    })),
  );
  await q.emails.enqueue(
    { to: 'legal@example.com', subject: 'Contract (held for review)' },
    { suspended: true },
  );
  await q.thumbnails.enqueueMany(
    Array.from({ length: BACKLOG }, (_, i) => ({ payload: { image: `img-${i}.jpg` } })),
  );
  await q.flaky.enqueueMany(
    Array.from({ length: 30 }, (_, n) => ({ payload: { n, alwaysFail: n % 10 === 0 }, maxAttempts: 3 })),
  );
  await partnerJob(q, 0);
  await reportTree(q);
  await q.imports.enqueueMany(
    Array.from({ length: 5 }, (_, i) => ({ payload: { file: `upload-${i}.csv` } })),
  );
}

/** A job of partner "globex-api" that always fails: its retries hold the partner's group (FIFO). */
function partnerJob(q: DemoQueues, n: number) {
  return q.flaky.enqueue(
    { n: 10_000 + n, alwaysFail: true },
    { groupKey: 'partner-globex-api', maxAttempts: 4 },
  );
}

function reportTree(q: DemoQueues) {
  return q.reports.enqueueTree({
    payload: { section: 'daily report' },
    rollup: true,
    children: ['sales', 'signups', 'churn', 'broken', 'support'].map((section) => ({ payload: { section } })),
  });
}

/** One second's worth of new work (tick counts seconds since the start). */
export async function tickDemo(q: DemoQueues, tick: number): Promise<void> {
  const [customer, other] = [pick(CUSTOMERS.slice(1)), pick(CUSTOMERS.slice(1))];
  await q.emails.enqueueMany([
    { payload: { to: `${customer}@example.com`, subject: pick(SUBJECTS) }, groupKey: `customer-${customer}` },
    {
      payload: { to: `${customer}+cc@example.com`, subject: pick(SUBJECTS) },
      groupKey: `customer-${customer}`,
    },
    { payload: { to: `${other}@example.com`, subject: pick(SUBJECTS) }, groupKey: `customer-${other}` },
  ]);
  if (tick % 30 === 0) {
    // A burst for the big customer: a FIFO line forms behind its group's head.
    await q.emails.enqueueMany(
      Array.from({ length: 12 }, (_, i) => ({
        payload: { to: `acme+${i}@example.com`, subject: 'Weekly digest' },
        groupKey: 'customer-acme',
      })),
    );
  }
  if (Math.random() < 0.1) {
    await q.emails.enqueue(
      { to: `${customer}@example.com`, subject: 'Reminder' },
      { delayMs: between(30_000, 120_000) },
    );
  }
  const waiting = (await q.thumbnails.jobs.overview({ cap: BACKLOG })).claimable.value;
  if (waiting < BACKLOG) {
    await q.thumbnails.enqueueMany(
      Array.from({ length: 5 }, (_, i) => ({ payload: { image: `t${tick}-${i}.jpg` } })),
    );
  }
  if (tick % 3 === 0)
    await q.flaky.enqueue({ n: 1000 + tick, alwaysFail: tick % 15 === 0 }, { maxAttempts: 3 });
  // Keep a few of the partner's jobs queued behind its failing head.
  if (tick % 5 === 0 && ((await q.flaky.jobs.group('partner-globex-api'))?.jobCount ?? 0) < 4) {
    await partnerJob(q, tick);
  }
  if (tick % 60 === 0) await reportTree(q);
  if (tick % 5 === 0) await q.imports.enqueue({ file: `upload-${tick}.csv` });
}
