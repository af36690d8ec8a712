import type { Arbiter } from '../client/arbiter.js';
import type { QueueContext } from '../client/context.js';
import { checkOptions, intInRange } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { queueOverview, type OverviewRow } from '../db/queries/overview.js';
import type { QueueInfo } from '../db/queries/queue.js';
import { workerLiveCounts } from '../db/queries/worker.js';
import { QueueNotFoundError } from '../errors.js';
import { LIVE_WORKER_WINDOW_MS } from './why.js';

/**
 * A count that may be approximate. `exact`: the real number. `atLeast`: counting stopped at the cap, so
 * there are `value` or more (shown as "10,000+"). `estimate`: past the cap, the planner's statistics
 * (pg_class.reltuples scaled to the table's current size), shown as "≈1.2M".
 */
export interface OverviewCount {
  value: number;
  exact: boolean;
  kind: 'exact' | 'atLeast' | 'estimate';
}

/**
 * One queue's figures for dashboards: each reads a bounded number of index entries whatever the queue
 * holds (see queue.jobs.overview). Scheduled, retrying and suspended jobs are not here: they cannot be
 * counted without scanning the table; stats() counts them exactly (one full scan) when asked.
 */
export interface QueueOverview {
  /** Every live job (not dead letters). */
  total: OverviewCount;
  /**
   * What claims could take now: ungrouped jobs that are due, plus one per group that is ready (its head;
   * a group runs one job at a time, so a group's other jobs are not claimable yet).
   */
  claimable: OverviewCount;
  /** Jobs holding an unexpired lease. */
  inFlight: OverviewCount;
  dead: OverviewCount;
  groups: OverviewCount;
  /**
   * How long the longest-waiting claimable work has been claimable: an ungrouped job's run_at, a group's
   * ready_at (since when its head could run). Null when nothing is claimable.
   */
  oldestClaimableAgeSeconds: number | null;
}

export interface OverviewOptions {
  /** Counts stop after this many rows, 1–1,000,000. Default 10,000. */
  cap?: number;
}

export const DEFAULT_OVERVIEW_CAP = 10_000;
const MAX_OVERVIEW_CAP = 1_000_000;

export function overviewCap(options: OverviewOptions | undefined, field = 'options'): number {
  const o = checkOptions<OverviewOptions>(options ?? {}, field, ['cap']);
  return o.cap === undefined ? DEFAULT_OVERVIEW_CAP : intInRange(o.cap, `${field}.cap`, 1, MAX_OVERVIEW_CAP);
}

function count(raw: string, cap: number, estimate?: number | null): OverviewCount {
  const n = Number(raw);
  if (n <= cap) return { value: n, exact: true, kind: 'exact' };
  if (estimate !== undefined && estimate !== null && estimate > cap) {
    return { value: Math.round(estimate), exact: false, kind: 'estimate' };
  }
  return { value: cap, exact: false, kind: 'atLeast' };
}

/**
 * Claimable work from the two budgeted walks: exact when neither stopped at its budget (cap + 1 entries
 * read); otherwise a lower bound, the claimable entries seen (never more than the cap is claimed).
 */
function claimableCount(r: OverviewRow, cap: number): OverviewCount {
  const seen = Number(r.ungrouped_claimable) + Number(r.grouped_claimable);
  const stopped = Number(r.ungrouped_scanned) > cap || Number(r.grouped_scanned) > cap;
  if (!stopped) return { value: seen, exact: true, kind: 'exact' };
  return { value: Math.min(seen, cap), exact: false, kind: 'atLeast' };
}

/** Reads one queue's overview (the implementation of queue.jobs.overview). */
export async function readQueueOverview(ctx: QueueContext, cap: number): Promise<QueueOverview> {
  const r = await withTranslation(ctx, () => queueOverview(ctx.db, ctx.t, cap));
  return {
    total: count(r.total, cap, r.total_estimate),
    claimable: claimableCount(r, cap),
    inFlight: count(r.in_flight, cap),
    dead: count(r.dead, cap, r.dead_estimate),
    groups: count(r.groups, cap, r.groups_estimate),
    oldestClaimableAgeSeconds: r.oldest_claimable_age === null ? null : Math.max(0, r.oldest_claimable_age),
  };
}

/** Something on a queue that needs an operator. */
export interface OverviewAlert {
  /** `no-live-worker`: claimable work has waited a minute or more and no live worker serves the queue. */
  code: 'no-live-worker';
  /** One sentence. */
  text: string;
}

/** One queue of GET /overview: its registry row, its bounded figures, its live workers and alerts. */
export type QueueOverviewEntry = QueueInfo &
  QueueOverview & {
    /** Workers serving the queue whose last heartbeat is younger than 15 s. */
    liveWorkers: number;
    alerts: OverviewAlert[];
  };

export interface QueuesOverview {
  /** When the figures were read (they may be served from cache until `generatedAt + maxAgeMs`). */
  generatedAt: Date;
  maxAgeMs: number;
  cap: number;
  /** `paused` is read at every call, never from the cache: a pause or a resume shows at once. */
  queues: QueueOverviewEntry[];
}

/** Claimable work older than this with no live worker raises the `no-live-worker` alert. */
export const NO_WORKER_ALERT_SECONDS = 60;

function alertsOf(q: Omit<QueueOverviewEntry, 'alerts'>): OverviewAlert[] {
  const age = q.oldestClaimableAgeSeconds;
  if (q.paused || q.liveWorkers > 0 || age === null || age < NO_WORKER_ALERT_SECONDS) return [];
  const waited = age < 120 ? `${Math.round(age)} s` : `${Math.round(age / 60)} min`;
  return [
    {
      code: 'no-live-worker',
      text: `No live worker serves queue "${q.name}" and its oldest claimable job has waited ${waited}.`,
    },
  ];
}

export interface OverviewReaderOptions extends OverviewOptions {
  /** How long one reading is served to every caller. Default 5,000 ms (the dashboard's refresh); 0 = never cached. */
  cacheMs?: number;
}

/**
 * Every queue's overview, read at most once per `cacheMs` however many callers ask (concurrent callers
 * share the reading in progress), so N open dashboards cost one round of queries per refresh period.
 */
export class OverviewReader {
  readonly cap: number;
  readonly cacheMs: number;
  private cached: { at: number; value: Promise<QueuesOverview> } | undefined;

  constructor(
    private readonly arbiter: Arbiter,
    options: OverviewReaderOptions = {},
  ) {
    const { cacheMs, ...rest } = checkOptions<OverviewReaderOptions>(options, 'options', ['cap', 'cacheMs']);
    this.cap = overviewCap(rest);
    this.cacheMs = cacheMs === undefined ? 5000 : intInRange(cacheMs, 'options.cacheMs', 0, 3_600_000);
  }

  async read(): Promise<QueuesOverview> {
    const [reading, fresh] = await Promise.all([this.cachedReading(), this.arbiter.listQueues()]);
    const paused = new Map(fresh.map((q) => [q.name, q.paused]));
    const queues = reading.queues
      .filter((q) => paused.has(q.name)) // dropped since the reading
      .map((q) => {
        const entry = { ...q, paused: paused.get(q.name)! };
        return { ...entry, alerts: alertsOf(entry) };
      });
    return { ...reading, queues };
  }

  private cachedReading(): Promise<QueuesOverview> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.value;
    const value = this.load();
    this.cached = { at: now, value };
    // A failed reading is not kept: the next caller tries again.
    value.catch(() => {
      if (this.cached?.value === value) this.cached = undefined;
    });
    return value;
  }

  private async load(): Promise<QueuesOverview> {
    const generatedAt = new Date();
    const queues: QueuesOverview['queues'] = [];
    const { db, schema } = this.arbiter;
    const live = await workerLiveCounts(db, schema, LIVE_WORKER_WINDOW_MS);
    // One queue after another: a refresh takes one pooled connection, not one per queue.
    for (const info of await this.arbiter.listQueues()) {
      try {
        const figures = await this.arbiter.queue(info.name).jobs.overview({ cap: this.cap });
        queues.push({ ...info, ...figures, liveWorkers: live.get(info.name) ?? 0, alerts: [] });
      } catch (err) {
        if (!(err instanceof QueueNotFoundError)) throw err; // dropped since it was listed
      }
    }
    return { generatedAt, maxAgeMs: this.cacheMs, cap: this.cap, queues };
  }
}
