/** Job ids are PostgreSQL bigints, carried as decimal strings so no precision is ever lost. */
export type JobId = string;

/**
 * Where a job stands, derived from its row (docs/glossary.md defines each word):
 * - `ready`      due now and waiting for a claim (a grouped job may still wait for its group's turn)
 * - `scheduled`  not yet due (delayed), never attempted
 * - `in-flight`  claimed; its lease has not expired (the handler may not have started yet)
 * - `retrying`   failed at least once; waiting for its backoff to pass
 * - `suspended`  made unclaimable by an operator (or paused as a child)
 * - `waiting`    a parent waiting for its children to finish
 * - `exhausted`  its lease expired on the last allowed attempt; about to be dead-lettered
 * - `dead`       in the dead-letter table
 */
export type JobStatus =
  'ready' | 'scheduled' | 'in-flight' | 'retrying' | 'suspended' | 'waiting' | 'exhausted' | 'dead';

/** Every JobStatus, in the order a job usually meets them (for filters, menus and validation). */
export const JOB_STATUSES: readonly JobStatus[] = [
  'ready',
  'scheduled',
  'in-flight',
  'retrying',
  'suspended',
  'waiting',
  'exhausted',
  'dead',
];

/** A job as stored in its queue's table. */
export interface Job<T = unknown> {
  id: JobId;
  queue: string;
  payload: T;
  groupKey: string | null;
  /** Lower runs first. */
  priority: number;
  /** Earliest time the job may be claimed (while leased: the lease expiry). */
  runAt: Date;
  /** Lease expiry while claimed; null when not claimed. */
  leasedUntil: Date | null;
  /** Number of claims so far; fences every write after a claim. */
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  dedupKey: string | null;
  idempotencyKey: string | null;
  /** The limit key it was enqueued with (`limitKey`), kept in its meta; null without one. */
  limitKey: string | null;
  parentId: JobId | null;
  isRollup: boolean;
  suspended: boolean;
  /** Snapshot of child results persisted before a rollup parent was dead-lettered. */
  parentState: unknown;
  workerId: string | null;
  meta: Record<string, unknown> | null;
  claimedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  status: JobStatus;
  /** Set by an enqueue with unique, debounce, throttle or maxQueued: what it did (see EnqueueOutcome). */
  enqueueOutcome?: EnqueueOutcome;
  /** A debounced job, as read by `queue.jobs.get`: how many later enqueues it absorbed. */
  debounced?: { key: string; absorbed: number };
}

/** A job in the dead-letter table. `id` is the dead letter's own id; `jobId` the id it had in the queue. */
export interface DeadJob<T = unknown> {
  id: JobId;
  jobId: JobId;
  queue: string;
  payload: T;
  groupKey: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  dedupKey: string | null;
  idempotencyKey: string | null;
  limitKey: string | null;
  parentId: JobId | null;
  isRollup: boolean;
  parentState: unknown;
  meta: Record<string, unknown> | null;
  createdAt: Date;
  failedAt: Date;
  status: 'dead';
}

/** What a fenced write needs: the job and the attempt it was claimed at. Any Job satisfies it. */
export interface JobRef {
  id: JobId | number | bigint;
  attempts: number;
}

/** One page of a keyset-paginated list. Pass `nextCursor` back as `cursor` for the next page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Keyset paging of a list call: how many items, and where the previous page stopped. */
export interface PageOptions {
  /** Page size, 1–1000. Default 50. */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | null;
}

export type DedupMode = 'ignore' | 'replace';

export interface DedupOptions {
  key: string;
  /**
   * `ignore` (default): skip the new job when one with the key exists.
   * `replace`: overwrite the existing job, unless it is in flight on a run that has not failed yet.
   */
  mode?: DedupMode;
}

/** How one job is enqueued: when it runs, its group, priority, parent, keys and attempt budget. */
export interface EnqueueOptions {
  /** Jobs with the same group key run one at a time, in id order. */
  groupKey?: string | null;
  /**
   * The job's limit key (a tenant, an API account): in a queue with per-key limits
   * (`setQueueLimits(queue, { perKey })`), jobs are claimed key by key in fair turns, within each key's
   * concurrency and rate limits (docs/flow-control.md). Ungrouped jobs only. Kept in the job's meta.
   */
  limitKey?: string | null;
  /** Lower runs first; -32768 to 32767. Default 0. */
  priority?: number;
  /** Delay before the job may run, in ms. Default 0. Mutually exclusive with runAt. */
  delayMs?: number;
  /** Absolute time the job may run. Mutually exclusive with delayMs. */
  runAt?: Date;
  /** Claims allowed before the job is dead-lettered; 1–1,000,000. Default 25. */
  maxAttempts?: number;
  dedup?: DedupOptions | null;
  /** Returns the existing live job instead of inserting when the key is taken by a non-terminal job. */
  idempotencyKey?: string | null;
  /** Makes this job a child of an existing job of the same queue. */
  parentId?: JobId | number | bigint | null;
  /** Insert as suspended (unclaimable until resumed). Default false. */
  suspended?: boolean;
  /** Free-form metadata stored with the job (e.g. trace context). */
  meta?: Record<string, unknown> | null;
  /**
   * Keeps `key` taken while its job is live and for `forMs` after it finished (see docs/enqueue.md).
   * Single enqueues only; not with dedup, idempotencyKey, debounce or throttle.
   */
  unique?: UniqueOptions | null;
  /** Runs one job `windowMs` after the last enqueue with `key`, with the last payload. */
  debounce?: DebounceOptions | null;
  /** At most one job per `key` per `windowMs`, the first (plus, optionally, a trailing one). */
  throttle?: ThrottleOptions | null;
  /** A cap on waiting jobs of the queue (or of the job's group), and what to do at the cap. */
  maxQueued?: MaxQueuedOptions | null;
  /**
   * Keep the job's result (or final error) so it can be awaited (`enqueue` then returns a handle with
   * `result()`) and read later (`queue.jobs.result(id)`); `{ retainMs }` sets how long it is kept once the
   * job finished (default one day). Single enqueues only (docs/workflows.md).
   */
  result?: boolean | { retainMs?: number } | null;
  /**
   * Existing jobs this one waits for: ids of this queue, or `{ queue, id }` (a Job will do). The job is
   * suspended until they all succeeded. Single enqueues only (docs/workflows.md).
   */
  dependsOn?: readonly (JobId | number | bigint | { queue: string; id: JobId | number | bigint })[] | null;
  /** When a dependency fails: 'cancel' (default: this job never runs) or 'continue' (it runs anyway). */
  onDependencyFailure?: 'cancel' | 'continue';
}

/** `unique`: which finished jobs keep their key taken for a while. */
export type UniqueHoldOn = 'succeeded' | 'dead' | 'finished';

export interface UniqueOptions {
  key: string;
  /** How long the key stays taken once its job finished, in ms (1 ms to 100 years). */
  forMs: number;
  /**
   * Which finishes hold the key: `finished` (default) both, `succeeded` only a job that ran to the end
   * (acked, kept, or cancelled), `dead` only a dead-lettered one. Otherwise the key frees when the job ends.
   */
  after?: UniqueHoldOn;
}

export interface DebounceOptions {
  key: string;
  /** Quiet time after the last enqueue before the job runs, in ms (1 ms to 1 day). */
  windowMs: number;
  /** Latest run time, counted from the first enqueue the job absorbed (≥ windowMs, at most 1 day). */
  maxWaitMs?: number;
}

export interface ThrottleOptions {
  key: string;
  /** The window, in ms (1 ms to 1 day). */
  windowMs: number;
  /** Keep the last enqueue of a window as a job that runs when the window ends. Default false. */
  trailing?: boolean;
}

/** What an enqueue at the cap does. */
export type OverflowPolicy = 'reject' | 'dropOldest' | 'wait';

export interface MaxQueuedOptions {
  /** Waiting (not in-flight) jobs allowed, 1 to 100,000. */
  limit: number;
  /** `queue` (default): all the queue's waiting jobs; `group`: those of the job's groupKey. */
  scope?: 'queue' | 'group';
  /**
   * `reject` (default): throw QueueFullError. `dropOldest`: delete the oldest waiting job of the scope
   * (one not in a tree) to make room. `wait`: retry until there is room, up to `timeoutMs`.
   */
  overflow?: OverflowPolicy;
  /** For `wait`: how long, in ms (default 5,000; at most 60,000). */
  timeoutMs?: number;
}

/**
 * What one enqueue did: `created` a new job; `replaced` the payload of a pending job (debounce, throttle's
 * trailing job, dedup replace); `absorbed` into a pending debounced job already at its maxWaitMs (payload
 * taken, run time unchanged); `throttled` within a throttle window, nothing written; `duplicate` the
 * unique key was taken, nothing written.
 */
export type EnqueueOutcome = 'created' | 'replaced' | 'absorbed' | 'throttled' | 'duplicate';

/** Options of `queue.claim`: how many jobs, how long their lease, and which worker claims them. */
export interface ClaimOptions {
  /** Maximum jobs to claim, 1–10,000. Default 1. */
  limit?: number;
  /** Lease (visibility timeout) in ms. Default 30,000. */
  leaseMs?: number;
  /** Recorded on the claimed rows so operators can see who holds a job. */
  workerId?: string | null;
}

export interface ClaimBatchedOptions {
  /** Jobs per group (and per batch of ungrouped jobs), 1–1,000. */
  batchSize: number;
  /** Maximum number of batches, 1–1,000. */
  maxBatches: number;
  leaseMs?: number;
  workerId?: string | null;
}

/** Per-job result of a batch lease extension. */
export interface LeaseUpdate {
  id: JobId;
  /** `updated`: lease extended. `acked`: the job is gone. `stolen`: another claim (or a release) superseded ours. */
  status: 'updated' | 'acked' | 'stolen';
  /** The attempt number now in the database, when the job still exists. */
  currentAttempts: number | null;
}

/** Exact job counts of one queue by status (`queue.jobs.stats()`, one full scan). */
export interface QueueStats {
  total: number;
  /** Claimable now. */
  ready: number;
  inFlight: number;
  scheduled: number;
  retrying: number;
  suspended: number;
  dead: number;
  groups: number;
  oldestReadyAgeSeconds: number | null;
}

/** Result of merging child outcomes for a rollup finalizer: an error message or a result value per child. */
export type ChildOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Composable predicates for listing and counting jobs (`queue.jobs.list`, `count`). Every given field must
 * match (AND). An omitted (or undefined) field does not filter.
 */
export interface JobFilter {
  /** One status or any of several. `dead` matches nothing in the live table (see `queue.dlq`). */
  status?: JobStatus | readonly JobStatus[];
  /** Jobs of this group; `null`: jobs without a group. */
  groupKey?: string | null;
  /** Children of this job; `null`: jobs without a parent. */
  parentId?: JobId | number | bigint | null;
  /** Created strictly after this time. */
  createdAfter?: Date;
  /** Created strictly before this time. */
  createdBefore?: Date;
  /** Exactly this priority. */
  priority?: number;
  /** Claimed at least this many times. */
  minAttempts?: number;
  /** `true`: has a recorded error; `false`: has none. */
  hasError?: boolean;
  dedupKey?: string;
  idempotencyKey?: string;
  /** The payload contains this JSON (PostgreSQL `@>`): `{ user: { id: 7 } }` matches any payload with that path. */
  payloadContains?: Record<string, unknown> | unknown[];
  /** Only these ids (at most 10,000). An empty array matches nothing. */
  ids?: readonly (JobId | number | bigint)[];
}

/** JobFilter for the dead-letter table, without `status` (every dead letter is `dead`); `ids` are dead-letter ids. */
export interface DeadJobFilter extends Omit<JobFilter, 'status'> {
  /** Dead-lettered strictly after this time. */
  failedAfter?: Date;
  /** Dead-lettered strictly before this time. */
  failedBefore?: Date;
}

export interface ListJobsOptions extends PageOptions {
  filter?: JobFilter;
}

/** Children of one parent still in the queue. `paused`: those suspended (paused or waiting themselves). */
export interface ChildCounts {
  total: number;
  paused: number;
}

export interface RefreshGroupsOptions {
  /** Skip the run when the last refresh of this queue finished less than this many ms ago. Default 0 (always run). */
  minIntervalMs?: number;
}

/** Options of `queue.dlq.list`: a filter plus keyset paging (most recently failed first). */
export interface ListDeadJobsOptions extends PageOptions {
  filter?: DeadJobFilter;
}

/** One job for `queue.dlq.moveMany`: the held job (id and attempts) and the error to record. */
export interface DeadLetterRequest {
  job: JobRef;
  error: string;
}

/** What a rollup finalizer can know about its children, as read by `queue.results.readChildOutcomesRaw`. */
export interface ChildOutcomesRaw {
  /** Child id → the result it was acked with. */
  results: Map<JobId, unknown>;
  /** Child id (its id in the queue) → last error, for children in the dead-letter table. */
  dlqErrors: Map<JobId, string>;
  /** The parent's parent_state snapshot (child id → result, taken when it was dead-lettered), or null. */
  snapshot: unknown;
  /** Dead-letter id → last error for the same dead children, to retry or delete them. */
  dlqFailures: Map<JobId, string>;
}

/** One line a handler logged (`ctx.log`). */
export interface JobLogLine {
  /** When it was logged. */
  at: Date;
  /** The attempt that logged it. */
  attempt: number;
  message: string;
}

/**
 * What a job reported while running (`ctx.progress`, `ctx.setMeta`, `ctx.log`): kept after the job
 * finished, until the queue's retention prunes it (the longer of its history and dead-letter ages).
 */
export interface JobReport {
  /** The attempt that wrote last. */
  attempt: number;
  /** The last progress value of that attempt (a number or an object), or null. */
  progress: unknown;
  /** Every metadata patch, merged (across attempts), or null. */
  meta: Record<string, unknown> | null;
  /** The newest log lines (at most 200), oldest first. */
  logs: JobLogLine[];
  updatedAt: Date;
}

/** One failed attempt of a job: recorded when its handler failed (retried or dead-lettered). */
export interface JobAttempt {
  attempt: number;
  error: string;
  /** The worker that ran it. */
  workerId: string | null;
  startedAt: Date | null;
  /** From the claim to the failure, on the database clock. */
  durationMs: number | null;
  failedAt: Date;
}

/** One finished durable step of a job (ctx.step, and the sleeps and waits recorded like steps). */
export interface JobStep {
  /** The step's name; sleeps and waits are named `$sleep:n` and `$wait:n` (their order in the handler). */
  name: string;
  /**
   * step (ctx.step), sleep (result: the wake time), event (result: the payload; for ctx.run, the awaited
   * job's `{ ok, result | error }`), timeout (a waitFor or ctx.run timed out), run (the job ctx.run enqueued).
   */
  kind: 'step' | 'sleep' | 'event' | 'timeout' | 'run';
  /** The stored JSON result; undefined when the step returned nothing. */
  result: unknown;
  /** The attempt that recorded it (0: recorded by an emit). */
  attempt: number;
  finishedAt: Date;
}

/** What a parked job waits for: an event (until its timeout, or for ever) or the end of a sleep. */
export interface JobWait {
  kind: 'event' | 'sleep';
  /** The event's name (kind `event`). */
  event: string | null;
  /** The wait's timeout or the sleep's end; null: waits for the event however long. */
  until: Date | null;
  /** The step the release records (`$wait:n` or `$sleep:n`). */
  step: string;
  since: Date;
}

/** An event as stored (the latest emit of its name) and the jobs waiting for it now. */
export interface EventInfo {
  name: string;
  /** The latest payload; undefined when never emitted. */
  payload: unknown;
  emittedAt: Date | null;
  /** How many times it was emitted, and how many waits those emits (or later waitFor calls) released. */
  emits: number;
  released: number;
  waiting: number;
}
