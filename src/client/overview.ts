import type { Arbiter } from './arbiter.js';
import { checkOptions, intInRange } from '../core/validate.js';
import { overviewCap, type OverviewOptions, type QueueOverview } from './queue-overview.js';
import type { QueueInfo } from '../db/queries/queue.js';
import { workerLiveCounts } from '../db/queries/worker.js';
import { QueueNotFoundError } from '../errors.js';
import { LIVE_WORKER_WINDOW_MS } from './why.js';
import type { PageOptions } from '../types.js';

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
  /** A page (readPage): the cursor of the next page, null on the last. */
  nextCursor?: string | null;
}

/** Pages kept in the cache at once (each for cacheMs). */
const PAGE_CACHE_MAX = 64;

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
  private readonly pages = new Map<string, { at: number; value: Promise<QueuesOverview> }>();

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

  /**
   * One page of queues in name order (see Arbiter.listQueuesPage), each with its figures: the registry
   * page, the live-worker counts, and one bounded overview query per queue of the page, so a refresh
   * costs `limit` + 2 statements whatever the number of queues. Cached per page for `cacheMs`; a cached
   * page still reads its queues' paused flags fresh (one registry page), as read() does, so a pause or
   * resume shows at the next refresh.
   */
  async readPage(page: PageOptions): Promise<QueuesOverview> {
    const key = `${page.limit ?? ''}:${page.cursor ?? ''}`;
    const now = Date.now();
    const hit = this.pages.get(key);
    if (hit && now - hit.at < this.cacheMs) {
      const [reading, fresh] = await Promise.all([hit.value, this.arbiter.listQueuesPage(page)]);
      const paused = new Map(fresh.items.map((q) => [q.name, q.paused]));
      const queues = reading.queues
        .filter((q) => paused.has(q.name)) // dropped since the reading
        .map((q) => {
          const entry = { ...q, paused: paused.get(q.name)! };
          return { ...entry, alerts: alertsOf(entry) };
        });
      return { ...reading, queues };
    }
    const value = this.loadPage(page);
    this.pages.set(key, { at: now, value });
    for (const [k, v] of this.pages)
      if (this.pages.size > PAGE_CACHE_MAX || now - v.at >= this.cacheMs) this.pages.delete(k);
    value.catch(() => {
      if (this.pages.get(key)?.value === value) this.pages.delete(key);
    });
    return value;
  }

  private async loadPage(page: PageOptions): Promise<QueuesOverview> {
    const generatedAt = new Date();
    const { items, nextCursor } = await this.arbiter.listQueuesPage(page);
    const live = await workerLiveCounts(this.arbiter.db, this.arbiter.schema, LIVE_WORKER_WINDOW_MS);
    const queues: QueuesOverview['queues'] = [];
    for (const info of items) {
      try {
        const figures = await this.arbiter.queue(info.name).jobs.overview({ cap: this.cap });
        const entry = { ...info, ...figures, liveWorkers: live.get(info.name) ?? 0 };
        queues.push({ ...entry, alerts: alertsOf(entry) });
      } catch (err) {
        if (!(err instanceof QueueNotFoundError)) throw err; // dropped since it was listed
      }
    }
    return { generatedAt, maxAgeMs: this.cacheMs, cap: this.cap, queues, nextCursor };
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
