import type { QueueContext } from './context.js';
import { withTranslation } from '../db/errors.js';
import { flowUsage, keyUsage } from '../db/queries/flow.js';
import { LIMIT_KEY_META, type KeyUsage } from '../core/flow-limits.js';
import { debounceOf } from '../db/queries/enqueue-controls.js';
import { dlqGetByJobId, jobWhyFacts } from '../db/queries/job-why.js';
import { workerSilentMs } from '../db/queries/worker.js';
import { waitGet, type WaitRow } from '../db/queries/steps.js';
import { toDeadJob, toJob } from '../db/rows.js';
import type { DeadJob, Job, JobId } from '../types.js';
import { getGroup, type GroupInfo, type GroupJobRef } from './groups.js';
import { isTracked } from '../core/tracking.js';
import { dependenciesOf, trackedRead } from '../db/queries/tracked.js';

/** A worker whose last heartbeat is younger than this is live (the worker's default deadWorkerThresholdMs). */
export const LIVE_WORKER_WINDOW_MS = 15_000;
/** Children counted for "waiting for N children" (then "N+"). */
const CHILD_CAP = 1000;
const ERROR_CHARS = 200;

/** Why a job is or is not running, in the order they are given; docs/http.md says what each means. */
export const WHY_CODES = [
  'in-flight',
  'worker-silent',
  'queue-paused',
  'waiting-children',
  'waiting-dependencies',
  'dependency-failed',
  'waiting-event',
  'sleeping',
  'suspended',
  'exhausted',
  'delayed',
  'retry-backoff',
  'group-in-flight',
  'group-retry',
  'group-held',
  'behind-head',
  'queue-cap',
  'rate-limit',
  'key-cap',
  'key-rate-limit',
  'no-worker',
  'dead',
  'ready',
] as const;

export type WhyCode = (typeof WHY_CODES)[number];

export interface WhyReason {
  code: WhyCode;
  /** One sentence, times in UTC. */
  text: string;
  /** The job the reason is about when it is not the job asked about (its group's blocker or next job). */
  jobId?: JobId;
  /** When the reason ends by itself (a lease, a delay, a backoff). */
  until?: Date;
}

/** Why a job is or is not running (`queue.jobs.why`): the job and every reason, in order. */
export interface JobExplanation<T = unknown> {
  /** The live job; null when it has left the queue. */
  job: Job<T> | null;
  /** The dead letter the job became, when it left the queue that way. */
  deadLetter: DeadJob<T> | null;
  /** Nothing stands in its way: it is in flight, or the next free worker claims it. */
  ok: boolean;
  /**
   * Every reason, in order: the queue (paused), the job's own state, its group (the job holding it or
   * running first, and that job's own reasons), then the workers (none live).
   */
  reasons: WhyReason[];
  /** The job's group as `listGroups` describes it; null for an ungrouped job. */
  group: GroupInfo | null;
  /** Workers serving the queue whose last heartbeat is younger than LIVE_WORKER_WINDOW_MS. */
  liveWorkers: number;
  /** The database time the answer was computed at. */
  checkedAt: Date;
}

const iso = (d: Date): string => d.toISOString();
const attempt = (a: number, m: number): string => `attempt ${a} of ${m}`;
const clip = (e: string | null): string =>
  e === null ? '' : `: ${e.length > ERROR_CHARS ? e.slice(0, ERROR_CHARS) + '…' : e}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function silentWorker(worker: string, ms: number, job: JobId, leasedUntil: Date, self: boolean): string {
  const who = self ? 'it' : `job ${job}`;
  return (
    `Worker ${worker} has sent no heartbeat for ${Math.round(ms / 1000)} s and may be lost: ${who} ` +
    `becomes claimable again when its lease ends at ${iso(leasedUntil)}.`
  );
}

/**
 * Answers "why isn't this job running?" (the implementation of queue.jobs.why): every reason, in order,
 * from one consistent reading. Null when the job is neither in the queue nor in its dead-letter table.
 */
export async function explainJob<T>(ctx: QueueContext, id: JobId): Promise<JobExplanation<T> | null> {
  const { db, t, name } = ctx;
  const facts = await withTranslation(ctx, () => jobWhyFacts(db, t, id, LIVE_WORKER_WINDOW_MS, CHILD_CAP));
  const base = { group: null, liveWorkers: facts.live_workers, checkedAt: facts.now };
  if (facts.job === null) {
    const row = await withTranslation(ctx, () => dlqGetByJobId(db, t, id));
    if (row === null) return null;
    const dead = toDeadJob<T>(name, row);
    const text =
      `Dead-lettered at ${iso(dead.failedAt)} after ${plural(dead.attempts, 'attempt')}${clip(dead.lastError)}. ` +
      `Dead letter ${dead.id} can be retried as a new job.`;
    return { ...base, job: null, deadLetter: dead, ok: false, reasons: [{ code: 'dead', text }] };
  }
  const job = toJob<T>(name, facts.job);
  // A debounced job carries how many enqueues it absorbed, as queue.jobs.get has it (docs/enqueue.md).
  const debounced = await withTranslation(ctx, () => debounceOf(db, t, job.id));
  if (debounced) job.debounced = debounced;
  const reasons: WhyReason[] = [];
  const add = (r: WhyReason) => reasons.push(r);

  if (job.status === 'in-flight') {
    add({
      code: 'in-flight',
      text: `In flight on worker ${job.workerId ?? '(unknown)'} until ${iso(job.leasedUntil!)} (${attempt(job.attempts, job.maxAttempts)}).`,
      until: job.leasedUntil!,
    });
    if (
      job.workerId !== null &&
      facts.holder_silent_ms !== null &&
      facts.holder_silent_ms > LIVE_WORKER_WINDOW_MS
    ) {
      add({
        code: 'worker-silent',
        text: silentWorker(job.workerId, facts.holder_silent_ms, job.id, job.leasedUntil!, true),
        until: job.leasedUntil!,
      });
    }
    return { ...base, job, deadLetter: null, ok: reasons.length === 1, reasons };
  }

  if (facts.queue_paused === true) {
    add({
      code: 'queue-paused',
      text: `Queue "${name}" is paused: none of its jobs is claimed until it is resumed.`,
    });
  }
  // A suspended tracked job may be waiting for its dependencies (or cancelled by one that failed).
  const byDeps =
    (job.status === 'suspended' || job.status === 'waiting') &&
    isTracked(job) &&
    (await dependencyReasons(ctx, job, add));
  // A job parked by ctx.waitFor / ctx.sleep says what it waits for (only parked-looking jobs are looked up).
  const parked =
    !byDeps &&
    job.attempts > 0 &&
    (job.status === 'suspended' || job.status === 'retrying' || job.status === 'scheduled')
      ? await withTranslation(ctx, () => waitGet(db, t, job.id))
      : null;
  if (!byDeps && (parked === null || !parkedState(parked, facts.now, add)))
    ownState(job, facts.children, add);

  let group: GroupInfo | null = null;
  let behind: JobId | null = null;
  if (job.groupKey !== null) {
    group = await getGroup(ctx, job.groupKey);
    if (job.status === 'ready' && group !== null) behind = await groupReasons(ctx, job, group, add);
  }

  if (job.status === 'ready' && job.attempts < job.maxAttempts) {
    const use = await withTranslation(ctx, () => flowUsage(db, t));
    const cap = use.limits.maxInFlight;
    if (cap !== null && use.inFlight >= cap) {
      add({
        code: 'queue-cap',
        text: `Queue cap ${use.inFlight}/${cap} reached: queue "${name}" starts no job until one in flight ends (a lost worker's jobs count until their leases are reclaimed).`,
      });
    }
    if (use.nextTokenMs !== null) {
      add({
        code: 'rate-limit',
        text: `Waiting for a rate token of queue "${name}", next in ${use.nextTokenMs} ms (${use.limits.rate!.perSecond}/s, burst ${use.limits.rate!.burst}).`,
        until: new Date(facts.now.getTime() + use.nextTokenMs),
      });
    }
    if (use.limits.perKey !== null && job.groupKey === null) {
      const key = typeof job.meta?.[LIMIT_KEY_META] === 'string' ? (job.meta[LIMIT_KEY_META] as string) : '';
      const [k] = await withTranslation(ctx, () => keyUsage(db, t, use.limits, { limit: 1, only: key }));
      if (k) keyReasons(k, facts.now, add);
    }
  }

  if (facts.live_workers === 0) {
    const whom = behind === null ? 'it' : `job ${behind} or this one`;
    add({
      code: 'no-worker',
      text: `No live worker serves queue "${name}" (none sent a heartbeat in the last ${LIVE_WORKER_WINDOW_MS / 1000} s): nothing claims ${whom}.`,
    });
  }
  if (reasons.length === 0) {
    add({
      code: 'ready',
      text: `Ready: the next free worker claims it (${plural(facts.live_workers, 'live worker')} serve queue "${name}").`,
    });
  }
  const ok = reasons.length === 1 && reasons[0]!.code === 'ready';
  return { ...base, group, job, deadLetter: null, ok, reasons };
}

/**
 * Why a tracked suspended job waits on its dependencies: "waiting for dependencies X, Y" (node names in a
 * flow, else queue/id), or cancelled because one failed. False when its dependencies hold nothing back.
 */
async function dependencyReasons(ctx: QueueContext, job: Job, add: (r: WhyReason) => void): Promise<boolean> {
  const [self] = await withTranslation(ctx, () =>
    trackedRead(ctx.db, ctx.t.schema, [{ queue: ctx.name, id: job.id }]),
  );
  if (!self) return false;
  const deps = await withTranslation(ctx, () => dependenciesOf(ctx.db, ctx.t.schema, ctx.name, job.id));
  const label = (d: { node: string | null; queue: string; job_id: string }) =>
    d.node ?? `${d.queue}/${d.job_id}`;
  if (self.state === 'cancelled') {
    add({
      code: 'dependency-failed',
      text:
        `Cancelled: ${self.error ?? 'a dependency failed'}. It runs if the failed job is retried from its ` +
        'dead-letter table and succeeds; cancelling its flow (or the job) removes it.',
    });
    return true;
  }
  if (self.state !== 'unfinished' || self.deps_pending === 0) return false;
  const pending = deps.filter(
    (d) =>
      d.edge_state === 'unfinished' || (d.edge_state !== 'succeeded' && self.on_dep_failure === 'cancel'),
  );
  add({
    code: 'waiting-dependencies',
    text:
      `Waiting for dependencies ${pending.map(label).join(', ')} ` +
      `(${deps.length - pending.length} of ${deps.length} finished); the last one to succeed releases it.`,
  });
  return true;
}

/** A parked job's reason (waiting for an event, sleeping); false when the wait no longer holds it. */
function parkedState(w: WaitRow, now: Date, add: (r: WhyReason) => void): boolean {
  if (w.kind === 'event') {
    const until = w.until === null ? 'with no timeout' : `until ${iso(w.until)} (then its wait times out)`;
    add({
      code: 'waiting-event',
      text: `Waiting for event "${w.event}" ${until}: arbiter.emit("${w.event}") releases it.`,
      ...(w.until === null ? {} : { until: w.until }),
    });
    return true;
  }
  if (w.until !== null && w.until > now) {
    add({ code: 'sleeping', text: `Sleeping until ${iso(w.until)} (ctx.sleep).`, until: w.until });
    return true;
  }
  return false;
}

/** The job's own state, when it keeps it from being claimed (at most one reason). */
function ownState(job: Job, children: number, add: (r: WhyReason) => void): void {
  const a = attempt(job.attempts, job.maxAttempts);
  switch (job.status) {
    case 'waiting': {
      const n = children >= CHILD_CAP ? `${CHILD_CAP}+ child jobs` : plural(children, 'child job');
      add({ code: 'waiting-children', text: `Waiting for ${n} to finish; the last one to finish wakes it.` });
      return;
    }
    case 'suspended':
      add({ code: 'suspended', text: 'Suspended: it is never claimed until it is resumed.' });
      return;
    case 'exhausted':
      add({
        code: 'exhausted',
        text: `Exhausted: its last attempt (${a}) lost its lease; the maintenance leader moves it to the dead-letter table.`,
      });
      return;
    case 'retrying':
      add({
        code: 'retry-backoff',
        text: `Waiting for its retry until ${iso(job.runAt)}: ${a} failed${clip(job.lastError)}.`,
        until: job.runAt,
      });
      return;
    case 'scheduled':
      add({ code: 'delayed', text: `Delayed until ${iso(job.runAt)}.`, until: job.runAt });
      return;
    case 'ready':
      if (job.attempts >= job.maxAttempts) {
        add({ code: 'exhausted', text: `No attempts left (${a}): it is never claimed again.` });
      }
      return;
    default:
      return;
  }
}

/**
 * What holds a ready job's group, and that job's own reasons. Returns the job that runs first when this
 * one waits its turn behind it (for the no-worker sentence), else null.
 */
async function groupReasons(
  ctx: QueueContext,
  job: Job,
  g: GroupInfo,
  add: (r: WhyReason) => void,
): Promise<JobId | null> {
  const key = g.groupKey;
  const b: GroupJobRef | null = g.blocker;
  if (b !== null && b.id !== job.id) {
    if (b.status === 'in-flight') {
      add({
        code: 'group-in-flight',
        text: `Behind job ${b.id} of group "${key}", in flight on worker ${b.workerId ?? '(unknown)'} until ${iso(b.leasedUntil!)}: a group runs one job at a time.`,
        jobId: b.id,
        until: b.leasedUntil!,
      });
      if (b.workerId !== null) {
        const ms = await withTranslation(ctx, () => workerSilentMs(ctx.db, ctx.t.schema, b.workerId!));
        if (ms !== null && ms > LIVE_WORKER_WINDOW_MS) {
          add({
            code: 'worker-silent',
            text: silentWorker(b.workerId, ms, b.id, b.leasedUntil!, false),
            jobId: b.id,
            until: b.leasedUntil!,
          });
        }
      }
    } else {
      add({
        code: 'group-retry',
        text: `Group "${key}" is held by job ${b.id}, which failed (${attempt(b.attempts, b.maxAttempts)}${clip(b.lastError)}) and retries at ${iso(b.runAt)}: FIFO order survives failures.`,
        jobId: b.id,
        until: b.runAt,
      });
    }
    return null;
  }
  if (b === null && g.blocked && g.blockedUntil !== null) {
    add({
      code: 'group-held',
      text: `Group "${key}" is held until ${iso(g.blockedUntil)}.`,
      until: g.blockedUntil,
    });
    return null;
  }
  const first = g.nextJobId ?? g.head?.id ?? null;
  if (first !== null && first !== job.id) {
    add({
      code: 'behind-head',
      text: `Behind job ${first}, the next of group "${key}" in FIFO order (priority, then id): it runs first.`,
      jobId: first,
    });
    return first;
  }
  return null;
}

/** Why a ready job of a keyed queue waits on its key: the key at its limit, or its bucket empty. */
function keyReasons(k: KeyUsage, now: Date, add: (r: WhyReason) => void): void {
  const label = k.key === '' ? 'the jobs without a limit key' : `key "${k.key}"`;
  if (k.maxInFlight !== null && k.inFlight >= k.maxInFlight) {
    add({
      code: 'key-cap',
      text: `${k.key === '' ? 'The jobs without a limit key are' : `Key "${k.key}" is`} at its limit ${k.inFlight}/${k.maxInFlight}: none of its jobs starts until one in flight ends (a lost worker's jobs count until their leases are reclaimed).`,
    });
  }
  if (k.rate !== null && k.tokens !== null && k.tokens < k.rate.cost) {
    const ms = Math.max(1, Math.ceil(((k.rate.cost - k.tokens) / k.rate.perSecond) * 1000));
    add({
      code: 'key-rate-limit',
      text: `Waiting for a rate token of ${label}, next in ${ms} ms (${k.rate.perSecond}/s, burst ${k.rate.burst}).`,
      until: new Date(now.getTime() + ms),
    });
  }
}
