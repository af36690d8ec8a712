// The checker: turns the recorded history into the R1 figures. Times are ms since epoch (the database
// and the suite share the host clock).
import { MAX_ATTEMPTS, QUEUES } from './common.js';
import type { Fault } from './faults.js';
import type { Exec, History, JobRec, Terminal } from './load.js';

export interface Figures {
  jobs: number;
  lost: number;
  multi_terminal: number;
  non_terminal_after_drain: number;
  unexpected: number;
  dup_accepted_acks: number;
  unrecorded_acks: number;
  same_attempt_twice: number;
  unexplained_reexec: number;
  reexec: number;
  bound: number;
  effect_dups: number;
  effect_missing: number;
  fifo_overlap: number;
  fifo_inversions: number;
  tree_early: number;
  tree_double: number;
  attempts_over: number;
  dlq_by_faults: number;
  details: string[];
}

type Place = { kind: 'done' | 'dlq'; attempts: number };

/** Where a job ended. `done` entries are accepted completions, from the most rigorous source per queue. */
function terminals(h: History, j: JobRec): { places: Place[]; unrecorded: boolean } {
  const places: Place[] = (h.dlq.get(j.key) ?? []).map((t) => ({
    kind: 'dlq' as const,
    attempts: t.attempts,
  }));
  const acks = (h.acks.get(j.key) ?? []).filter((a) => a.kind === 'ack');
  if (j.queue === QUEUES.hist)
    for (const t of h.hist.get(j.key) ?? []) places.push({ kind: 'done', attempts: t.attempts });
  else if (j.queue === QUEUES.tx) {
    for (const t of h.effects.get(j.key) ?? []) places.push({ kind: 'done', attempts: t.attempts });
    // A tx job's completion must be the handler's transaction; a worker ack accepted on top is a bug.
    for (const a of acks) places.push({ kind: 'done', attempts: a.attempts });
  } else for (const a of acks) places.push({ kind: 'done', attempts: a.attempts });
  let unrecorded = false;
  if (j.queue === QUEUES.plain && places.length === 0 && !h.remaining.has(j.key)) {
    // Gone from the queue with an ok execution but no recorded ack: the ack event's insert was lost
    // (worker killed or database crashed right after the ack committed). Accept as completed.
    const ok = (h.execs.get(j.key) ?? []).filter((e) => e.outcome === 'ok');
    if (ok.length > 0) {
      places.push({ kind: 'done', attempts: ok[ok.length - 1]!.attempt });
      unrecorded = true;
    }
  }
  return { places, unrecorded };
}

function overlaps(a0: number, a1: number, b0: number, b1: number): boolean {
  return a0 <= b1 && b0 <= a1;
}

/** Why attempt `e` ran again, or null when nothing explains it. */
function explain(prev: Exec | undefined, e: Exec, faults: Fault[]): string | null {
  if (prev?.outcome === 'threw') return 'handler-failure';
  if (!prev) {
    const any = faults.find(
      (f) => f.kind !== 'listen-kill' && f.at <= e.start && (f.until ?? f.at) >= e.start - 120_000,
    );
    return any ? `unrecorded-previous-attempt(${any.kind})` : null;
  }
  const f = faultEnding(prev, e.start, faults);
  return f ? (f.kind === 'pg-crash' ? 'pg' : f.kind) : null;
}

/** The fault that ended execution `prev` without an accepted outcome, the next attempt starting at `next`. */
function faultEnding(prev: Exec, next: number, faults: Fault[]): Fault | undefined {
  const end = prev.end ?? next;
  // A statement sent just before its process was SIGKILLed still runs: its row may carry a time a few
  // ms after the kill, so the previous attempt's start is taken with a little slack.
  const start = prev.start - 500;
  return faults.find((f) => {
    const on = f.workers.includes(prev.worker);
    if ((f.kind === 'kill' || f.kind === 'crash') && on) return f.at >= start && f.at <= end + 3_000;
    if (f.kind === 'pause' && on) return overlaps(start, end + 3_000, f.at, f.until!);
    if (f.kind === 'pg-crash') return overlaps(start, end + 1_000, f.at - 1_000, f.until! + 5_000);
    if (f.kind === 'ack-kill' && on) return f.at >= start && f.at <= end + 5_000;
    return false;
  });
}

/**
 * What spent each attempt of a dead-lettered job, attempt by attempt (null: nothing explains it). An
 * attempt is spent by its claim, so it may have no execution at all: the job sat in the prefetch buffer
 * of a worker that was killed or paused before the handler started, and its lease ran out.
 * - threw: the handler's injected failure, within the job's budget (f=1 fails on attempt 1 only);
 * - ran and never finished, or finished and was not accepted: a fault on that worker (kill, pause,
 *   database crash, killed ack) between its start and the next attempt (or the dead-lettering);
 * - never ran: given back unrun (each such attempt raised the budget by one), or else a fault on any
 *   worker between the previous attempt and the dead-lettering.
 */
export function dlqReasons(fail: number, execs: Exec[], dlq: Terminal, faults: Fault[]): (string | null)[] {
  const reasons: (string | null)[] = [];
  // Each attempt given back unrun (a buffered job whose worker stopped or slowed down) raised the budget.
  let givenBack = (dlq.maxAttempts ?? MAX_ATTEMPTS) - MAX_ATTEMPTS;
  let after = -Infinity; // the claim of the attempt being explained came after this
  let used: Fault | undefined; // the fault that ended the previous attempt cannot end this one too
  for (let attempt = 1; attempt <= dlq.attempts; attempt++) {
    const e = execs.find((x) => x.attempt === attempt);
    const nextStart = execs.find((x) => x.attempt === attempt + 1)?.start ?? dlq.at;
    let f: Fault | undefined;
    if (e?.outcome === 'threw') {
      reasons.push(fail === 1 && attempt === 1 ? 'handler-failure' : null);
    } else if (e) {
      f = faultEnding(e, nextStart, faults);
      reasons.push(f ? f.kind : null);
    } else if (givenBack > 0) {
      givenBack--;
      reasons.push('given-back');
    } else {
      f = faults.find(
        (x) => x !== used && x.kind !== 'listen-kill' && (x.until ?? x.at) >= after && x.at <= nextStart,
      );
      reasons.push(f ? `unstarted(${f.kind})` : null);
    }
    used = f;
    after = e?.start ?? after;
  }
  return reasons;
}

export function check(h: History, faults: Fault[]): Figures {
  const fig: Figures = {
    jobs: h.jobs.size,
    lost: 0,
    multi_terminal: 0,
    non_terminal_after_drain: 0,
    unexpected: 0,
    dup_accepted_acks: 0,
    unrecorded_acks: 0,
    same_attempt_twice: 0,
    unexplained_reexec: 0,
    reexec: 0,
    bound: 0,
    effect_dups: 0,
    effect_missing: 0,
    fifo_overlap: 0,
    fifo_inversions: 0,
    tree_early: 0,
    tree_double: 0,
    attempts_over: h.attemptsOver.length,
    dlq_by_faults: 0,
    details: [],
  };
  const note = (s: string) => fig.details.length < 40 && fig.details.push(s);
  for (const over of h.attemptsOver) note(`over the attempt budget: ${over}`);
  const accepted = new Map<string, Exec>();
  const finalTerminalAt = new Map<string, number>();
  for (const j of h.jobs.values()) {
    const execs = h.execs.get(j.key) ?? [];
    const { places, unrecorded } = terminals(h, j);
    if (unrecorded) fig.unrecorded_acks++;
    const done = places.filter((p) => p.kind === 'done');
    const dlq = places.filter((p) => p.kind === 'dlq');
    if (h.remaining.has(j.key)) {
      fig.non_terminal_after_drain++;
      note(`non-terminal after drain: job ${j.key} (${j.queue})`);
    } else if (places.length === 0) {
      fig.lost++;
      note(`LOST: job ${j.key} (${j.queue}, ${j.kind}) executions=${JSON.stringify(execs)}`);
    }
    if (dlq.length > 1 || (dlq.length > 0 && done.length > 0)) {
      fig.multi_terminal++;
      note(`multi-terminal: job ${j.key} ${JSON.stringify(places)}`);
    }
    if (done.length > 1) {
      fig.dup_accepted_acks++;
      if (j.kind === 'final') fig.tree_double++;
      note(`double completion: job ${j.key} (${j.queue}) ${JSON.stringify(places)}`);
    }
    if (j.queue === QUEUES.tx) {
      const eff = h.effects.get(j.key) ?? [];
      if (eff.length > 1) fig.effect_dups++;
      if (done.length > 0 && eff.length === 0) fig.effect_missing++;
    }
    if (execs.some((e) => e.attempt > e.maxAttempts || e.maxAttempts < MAX_ATTEMPTS)) {
      fig.attempts_over++;
      note(`attempt over the budget: job ${j.key}: ${JSON.stringify(execs)}`);
    }
    const seen = new Set<number>();
    for (const e of execs) {
      if (seen.has(e.attempt)) {
        fig.same_attempt_twice++;
        note(`attempt ${e.attempt} of job ${j.key} ran twice: ${JSON.stringify(execs)}`);
      }
      seen.add(e.attempt);
    }
    // Re-executions: every attempt after the first needs a reason.
    for (const e of execs) {
      if (e.attempt < 2) continue;
      const prev = execs.find((x) => x.attempt === e.attempt - 1);
      const why = explain(prev, e, faults);
      if (why === null) {
        fig.unexplained_reexec++;
        note(`unexplained re-execution: job ${j.key} attempt ${e.attempt}: ${JSON.stringify(execs)}`);
      } else if (why !== 'handler-failure') {
        fig.reexec++;
      }
    }
    // Expected terminal state: always-fail jobs in the DLQ, others completed (or DLQ'd by faults).
    if (j.fail === 2 && done.length > 0) {
      fig.unexpected++;
      note(`always-failing job ${j.key} completed: ${JSON.stringify(places)}`);
    }
    if (j.fail !== 2 && dlq.length > 0 && done.length === 0) {
      const why = dlqReasons(j.fail, execs, h.dlq.get(j.key)![0]!, faults);
      if (why.every((r) => r !== null) && why.some((r) => r !== 'handler-failure')) fig.dlq_by_faults++;
      else {
        fig.unexpected++;
        note(
          `unexpected dead letter: job ${j.key}: ${JSON.stringify(h.dlq.get(j.key)![0])} after ${JSON.stringify(execs)}; attempts explained: ${JSON.stringify(why)}`,
        );
      }
    }
    const term = done[0] ?? dlq[0];
    if (term) {
      const acc = execs.find((e) => e.attempt === term.attempts);
      const t = [...(h.hist.get(j.key) ?? []), ...(h.dlq.get(j.key) ?? []), ...(h.effects.get(j.key) ?? [])];
      const terminalAt = t.length > 0 ? Math.min(...t.map((x) => x.at)) : (acc?.end ?? 0);
      // A final attempt whose worker was killed mid-run never records an end; the job held its group
      // until it left it (dead-lettered as worker lost), so that is when the run ended for FIFO purposes.
      if (acc) accepted.set(j.key, acc.end === null ? { ...acc, end: terminalAt } : acc);
      finalTerminalAt.set(j.key, terminalAt);
    }
  }
  checkFifo(h, accepted, fig, note);
  checkTrees(h, accepted, finalTerminalAt, fig, note);
  fig.bound = reexecBound(h, faults);
  return fig;
}

function checkFifo(h: History, accepted: Map<string, Exec>, fig: Figures, note: (s: string) => void): void {
  const groups = new Map<string, JobRec[]>();
  for (const j of h.jobs.values()) {
    if (j.group === null) continue;
    const key = `${j.queue}/${j.group}`;
    groups.set(key, [...(groups.get(key) ?? []), j]);
  }
  for (const [key, jobs] of groups) {
    jobs.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    const acc = jobs.map((j) => ({ j, e: accepted.get(j.key) })).filter((x) => x.e !== undefined);
    // Overlap: the accepted run of one job ran while the accepted run of another was running.
    const byStart = [...acc].sort((a, b) => a.e!.start - b.e!.start);
    for (let i = 1; i < byStart.length; i++) {
      const prev = byStart[i - 1]!;
      const cur = byStart[i]!;
      if (prev.e!.end === null || cur.e!.start < prev.e!.end) {
        fig.fifo_overlap++;
        note(
          `FIFO overlap in ${key}: job ${prev.j.id} ${JSON.stringify(prev.e)} and ${cur.j.id} ${JSON.stringify(cur.e)}`,
        );
      }
    }
    // Order: accepted runs finish in id order.
    for (let i = 1; i < acc.length; i++) {
      const a = acc[i - 1]!;
      const b = acc[i]!;
      if ((b.e!.end ?? 0) < (a.e!.end ?? 0)) {
        fig.fifo_inversions++;
        note(`FIFO inversion in ${key}: ${a.j.id} finished after ${b.j.id}`);
      }
    }
  }
}

function checkTrees(
  h: History,
  accepted: Map<string, Exec>,
  terminalAt: Map<string, number>,
  fig: Figures,
  note: (s: string) => void,
): void {
  const trees = new Map<string, { final?: JobRec; children: JobRec[] }>();
  for (const j of h.jobs.values()) {
    if (j.tree === null) continue;
    const key = `${j.queue}/${j.tree}`;
    const t = trees.get(key) ?? { children: [] };
    if (j.kind === 'final') t.final = j;
    else t.children.push(j);
    trees.set(key, t);
  }
  for (const [key, t] of trees) {
    if (!t.final) continue;
    const runs = h.execs.get(t.final.key) ?? [];
    const lastChild = Math.max(...t.children.map((c) => terminalAt.get(c.key) ?? Infinity));
    for (const r of runs) {
      if ((r.childrenPending ?? 0) > 0 || r.start < lastChild) {
        fig.tree_early++;
        note(
          `tree ${key}: finalizer ${t.final.id} started early ${JSON.stringify(r)} last child at ${lastChild}`,
        );
      }
    }
    const acc = accepted.get(t.final.key);
    if (acc && acc.outcome === 'ok' && acc.childrenSeen !== t.children.length) {
      note(`tree ${key}: finalizer saw ${acc.childrenSeen} child outcomes of ${t.children.length}`);
    }
  }
}

/**
 * Σ over faults of the executions the fault could force to run again: running (or just finished, with
 * the ack possibly still pending: 250 ms) on the affected workers while the fault was active.
 */
function reexecBound(h: History, faults: Fault[]): number {
  let bound = 0;
  const all = [...h.execs.values()].flat();
  for (const f of faults) {
    if (f.kind === 'listen-kill') continue;
    const from = f.at;
    const to = f.until ?? f.at;
    bound += all.filter(
      (e) =>
        (f.kind === 'pg-crash' || f.workers.includes(e.worker)) &&
        e.start <= to &&
        (e.end === null || e.end >= from - 250),
    ).length;
  }
  return bound;
}

/** Liveness: max time from a SIGKILL to the re-claim of a job that was running on the victim. */
export function maxReclaimS(h: History, faults: Fault[]): number | null {
  const crash = faults.find((f) => f.kind === 'pg-crash');
  let max: number | null = null;
  for (const f of faults) {
    if (f.kind !== 'kill') continue;
    // A kill whose recovery window overlaps the database outage measures the outage, not the reclaim.
    if (crash && overlaps(f.at, f.at + 10_000, crash.at - 1_000, crash.until! + 10_000)) continue;
    for (const execs of h.execs.values()) {
      for (const e of execs) {
        if (e.worker !== f.workers[0] || e.end !== null || e.start > f.at) continue;
        const next = execs.find((x) => x.attempt > e.attempt);
        if (!next) continue;
        const s = (next.start - f.at) / 1000;
        max = max === null ? s : Math.max(max, s);
      }
    }
  }
  return max;
}

/** After the restart, how long until every surviving worker completed a job again (worst worker). */
export function pgResumeS(h: History, faults: Fault[]): { s: number | null; workers: number } {
  const crash = faults.find((f) => f.kind === 'pg-crash');
  if (!crash) return { s: null, workers: 0 };
  const killedSoon = new Set(
    faults
      .filter((f) => f.kind === 'kill' && f.at >= crash.until! && f.at <= crash.until! + 5_000)
      .flatMap((f) => f.workers),
  );
  const survivors = crash.workers.filter((w) => !killedSoon.has(w));
  const first = new Map<string, number>();
  for (const execs of h.execs.values())
    for (const e of execs)
      if (e.end !== null && e.outcome === 'ok' && e.end >= crash.until! && survivors.includes(e.worker))
        first.set(e.worker, Math.min(first.get(e.worker) ?? Infinity, e.end));
  let worst = 0;
  for (const w of survivors) worst = Math.max(worst, ((first.get(w) ?? Infinity) - crash.until!) / 1000);
  return { s: survivors.length === 0 ? null : worst, workers: survivors.length };
}

/**
 * The paused worker's runs that were in flight when it was stopped and were superseded by a later
 * attempt elsewhere (their late acks must all have been fenced: a dup would show in dup_accepted_acks),
 * and how many of those stale runs were nevertheless the accepted one (must be 0).
 */
export function pausedStale(h: History, faults: Fault[]): { stale: number; accepted: number } {
  const pause = faults.find((f) => f.kind === 'pause');
  const out = { stale: 0, accepted: 0 };
  if (!pause) return out;
  for (const [key, execs] of h.execs) {
    for (const e of execs) {
      if (e.worker !== pause.workers[0] || e.start > pause.at || (e.end !== null && e.end < pause.at))
        continue;
      if (!execs.some((x) => x.attempt > e.attempt)) continue;
      out.stale++;
      const done = [...(h.hist.get(key) ?? []), ...(h.effects.get(key) ?? []), ...(h.dlq.get(key) ?? [])];
      const acks = (h.acks.get(key) ?? []).filter((a) => a.kind === 'ack' || a.kind === 'dead');
      if ([...done, ...acks].some((t) => t.attempts === e.attempt)) out.accepted++;
    }
  }
  return out;
}
