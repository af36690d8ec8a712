import type { QueueContext } from './context.js';
import { decodeCursor, encodeCursor } from '../core/cursor.js';
import { DEFAULT_PAGE_SIZE } from '../core/job-filter.js';
import { LIMITS, checkOptions, intInRange } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { groupGet, groupList, type GroupJobColumns, type GroupListRow } from '../db/queries/group-list.js';
import type { JobId, JobStatus, Page, PageOptions } from '../types.js';

/** A job of a group, as the groups listing shows it (no payload: a page of groups stays small). */
export interface GroupJobRef {
  id: JobId;
  status: JobStatus;
  priority: number;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leasedUntil: Date | null;
  workerId: string | null;
  lastError: string | null;
}

/**
 * `in-flight`: a job of the group holds a lease; `retrying`: a job failed and the group waits for its
 * retry (FIFO survives failures); `ready`: a claim would take `nextJobId` now; `idle`: nothing of the
 * group can run now (delayed, suspended, waiting for children or out of attempts).
 */
export type GroupState = 'in-flight' | 'retrying' | 'ready' | 'idle';

/** One group of a queue: its job count, its FIFO head, whether and by which job it is blocked, and why. */
export interface GroupInfo {
  groupKey: string;
  /** Live jobs of the group, counted up to GROUP_COUNT_CAP (that value means at least as many). */
  jobCount: number;
  state: GroupState;
  /** True when the group is held: no job of it can be claimed until `blockedUntil`. */
  blocked: boolean;
  blockedUntil: Date | null;
  /** Why, in one sentence. */
  reason: string;
  /** The first job in FIFO order (priority, then id). */
  head: GroupJobRef | null;
  /** The job holding the group: in flight, or failed and waiting for its retry. */
  blocker: GroupJobRef | null;
  /** The job a claim would take now (null when blocked or nothing can run). */
  nextJobId: JobId | null;
}

export const GROUP_CURSOR_KIND = 'groups:key-asc';
/** Jobs of one group looked at (in FIFO order) to find the next runnable one. */
export const GROUP_SCAN = 1000;
/** Jobs of one group counted for the listing; a larger group shows this many. */
export const GROUP_COUNT_CAP = 10_000;

function ref(c: GroupJobColumns): GroupJobRef | null {
  if (c.id === null) return null;
  return {
    id: c.id,
    status: c.status as JobStatus,
    priority: c.priority!,
    attempts: c.attempts!,
    maxAttempts: c.max_attempts!,
    runAt: c.run_at!,
    leasedUntil: c.leased_until,
    workerId: c.worker_id,
    lastError: c.last_error,
  };
}

const iso = (d: Date) => d.toISOString();

function describe(r: GroupListRow): Pick<GroupInfo, 'state' | 'blocked' | 'blockedUntil' | 'reason'> {
  const now = r.now.getTime();
  const head = ref(r.head);
  const blocker = ref(r.blocker);
  const heldUntil = r.in_flight_until && r.in_flight_until.getTime() > now ? r.in_flight_until : null;
  if (blocker && blocker.status === 'in-flight') {
    return {
      state: 'in-flight',
      blocked: true,
      blockedUntil: blocker.leasedUntil,
      reason: `job ${blocker.id} is in flight on ${blocker.workerId ?? 'a worker'} until ${iso(blocker.leasedUntil!)}; the jobs behind it wait`,
    };
  }
  if (blocker) {
    const error = blocker.lastError === null ? '' : `: ${blocker.lastError.slice(0, 200)}`;
    return {
      state: 'retrying',
      blocked: true,
      blockedUntil: blocker.runAt,
      reason: `job ${blocker.id} failed (attempt ${blocker.attempts} of ${blocker.maxAttempts}${error}) and retries at ${iso(blocker.runAt)}; the jobs behind it wait`,
    };
  }
  if (heldUntil) {
    return {
      state: r.in_flight_count > 0 ? 'in-flight' : 'retrying',
      blocked: true,
      blockedUntil: heldUntil,
      reason: `held until ${iso(heldUntil)}`,
    };
  }
  if (r.next_id !== null) {
    return {
      state: 'ready',
      blocked: false,
      blockedUntil: null,
      reason: r.next_id === head?.id ? `head job ${r.next_id} runs next` : `job ${r.next_id} runs next`,
    };
  }
  const why =
    head === null
      ? 'no job found'
      : head.status === 'scheduled'
        ? `head job ${head.id} is scheduled for ${iso(head.runAt)}`
        : head.status === 'waiting'
          ? `head job ${head.id} waits for its children`
          : `head job ${head.id} is ${head.status}`;
  const scanned = r.job_count > GROUP_SCAN ? ` (among its first ${GROUP_SCAN} jobs)` : '';
  return {
    state: 'idle',
    blocked: false,
    blockedUntil: null,
    reason: `no job can run now${scanned}: ${why}`,
  };
}

function toGroupInfo(r: GroupListRow): GroupInfo {
  return {
    groupKey: r.group_key,
    jobCount: r.job_count,
    ...describe(r),
    head: ref(r.head),
    blocker: ref(r.blocker),
    nextJobId: r.next_id,
  };
}

/** One group, described as in listGroups (the implementation of queue.jobs.group); null when it has no job. */
export async function getGroup(ctx: QueueContext, key: string): Promise<GroupInfo | null> {
  const row = await withTranslation(ctx, () => groupGet(ctx.db, ctx.t, key, GROUP_SCAN, GROUP_COUNT_CAP));
  return row === null ? null : toGroupInfo(row);
}

function parseCursor(value: unknown, field: string): string {
  // Room for the longest group key (512 characters of any script), base64url-encoded.
  return decodeCursor(value, field, GROUP_CURSOR_KIND, 1, 4096)[0]!;
}

/** A page of a queue's groups in key order (the implementation of queue.jobs.listGroups). */
export async function listGroups(
  ctx: QueueContext,
  page: PageOptions,
  field: string,
): Promise<Page<GroupInfo>> {
  const o = checkOptions<PageOptions>(page, field, ['limit', 'cursor']);
  const limit =
    o.limit === undefined ? DEFAULT_PAGE_SIZE : intInRange(o.limit, `${field}.limit`, 1, LIMITS.maxPageSize);
  const after = o.cursor === undefined || o.cursor === null ? null : parseCursor(o.cursor, `${field}.cursor`);
  const rows = await withTranslation(ctx, () =>
    groupList(ctx.db, ctx.t, after, limit + 1, GROUP_SCAN, GROUP_COUNT_CAP),
  );
  const items = rows.slice(0, limit).map(toGroupInfo);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > limit && last ? encodeCursor(GROUP_CURSOR_KIND, [last.groupKey]) : null,
  };
}
