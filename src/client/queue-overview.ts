import type { QueueContext } from './context.js';
import { checkOptions, intInRange } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { queueOverview, type OverviewRow } from '../db/queries/overview.js';

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
