import { describe, expect, it } from 'vitest';
import { checkWaits, waitsPass, type WaitHistory, type WaitUnit } from '../../chaos/wait-check.js';

// The chaos checker's verdict on ctx.waitFor: every wait job is released exactly once, by its event when
// one committed (and always when it was emitted long before the timeout), else by its timeout; every run
// after the release sees the same outcome; and what the handler saw is what Arbiter recorded.
const unit = (w: number, kind: WaitUnit['kind'], emitted: boolean): WaitUnit => ({
  w,
  jobId: String(100 + w),
  kind,
  token: 7000 + w,
  emitted,
});

/** Four jobs, each released as its kind says, each seen by one run. */
function history(): WaitHistory {
  const units = [
    unit(0, 'emit', true),
    unit(1, 'race', true),
    unit(2, 'never', false),
    unit(3, 'rollback', false),
  ];
  const h: WaitHistory = {
    units,
    seen: new Map(),
    steps: new Map(),
    released: new Map(),
    queued: new Set(),
    dead: new Set(),
  };
  for (const u of units) {
    if (u.emitted) {
      const payload = { w: u.w, token: u.token };
      h.seen.set(u.jobId, [{ attempt: 1, seen: 'event', payload }]);
      h.steps.set(u.jobId, { kind: 'event', result: payload });
      h.released.set(u.w, 1);
    } else {
      h.seen.set(u.jobId, [{ attempt: 1, seen: 'timeout', payload: null }]);
      h.steps.set(u.jobId, { kind: 'timeout', result: null });
    }
  }
  return h;
}

const job = (w: number) => String(100 + w);

describe('chaos wait checker', () => {
  it('passes waits released once each, by their event or their timeout', () => {
    const fig = checkWaits(history());
    expect(fig).toMatchObject({ waits: 4, wait_events: 2, wait_timeouts: 2 });
    expect(waitsPass(fig, 4)).toBe(true);
    expect(fig.details).toEqual([]);
  });

  it('accepts replays that see the same outcome, and a race lost to the timeout', () => {
    const h = history();
    const p = { w: 0, token: 7000 };
    h.seen.set(job(0), [
      { attempt: 1, seen: 'event', payload: p },
      { attempt: 2, seen: 'event', payload: p },
    ]);
    h.seen.set(job(1), [{ attempt: 1, seen: 'timeout', payload: null }]);
    h.steps.set(job(1), { kind: 'timeout', result: null });
    h.released.set(1, 0);
    const fig = checkWaits(h);
    expect(waitsPass(fig, 4)).toBe(true);
    expect(fig).toMatchObject({ wait_events: 1, wait_timeouts: 3 });
  });

  it('counts a wait never released, or a job left queued or dead-lettered, as missing', () => {
    const h = history();
    h.seen.delete(job(0));
    h.queued.add(job(1));
    h.dead.add(job(2));
    const fig = checkWaits(h);
    expect(fig.wait_missing).toBe(3);
    expect(waitsPass(fig, 4)).toBe(false);
  });

  it('counts runs that saw different outcomes, and an event releasing twice, as double', () => {
    const h = history();
    h.seen.get(job(1))!.push({ attempt: 2, seen: 'timeout', payload: null });
    h.released.set(0, 2);
    const fig = checkWaits(h);
    expect(fig.wait_double).toBe(2);
    expect(fig.details.join('\n')).toMatch(/wait 0 .*released twice/);
  });

  it('counts a release by an event never committed, a rolled-back one, or a wrong payload, as wrong', () => {
    const h = history();
    const ghost = { w: 2, token: 7002 };
    h.seen.set(job(2), [{ attempt: 1, seen: 'event', payload: ghost }]);
    h.steps.set(job(2), { kind: 'event', result: ghost });
    h.released.set(2, 1);
    h.seen.set(job(0), [{ attempt: 1, seen: 'event', payload: { w: 0, token: 1 } }]);
    h.steps.set(job(0), { kind: 'event', result: { w: 0, token: 1 } });
    const fig = checkWaits(h);
    expect(fig.wait_wrong).toBe(2);
    expect(fig.details.join('\n')).toMatch(/saw an event, none committed/);
  });

  it('counts a timeout of an early emit, and a handler disagreeing with the stored step, as wrong', () => {
    const h = history();
    h.seen.set(job(0), [{ attempt: 1, seen: 'timeout', payload: null }]);
    h.steps.set(job(0), { kind: 'timeout', result: null });
    h.released.set(0, 0);
    h.steps.set(job(3), { kind: 'event', result: { w: 3, token: 7003 } });
    const fig = checkWaits(h);
    expect(fig.wait_wrong).toBe(2);
    expect(fig.details.join('\n')).toMatch(/emitted long before the timeout[\s\S]*Arbiter recorded/);
  });

  it('fails when fewer waits were enqueued than planned', () => {
    expect(waitsPass(checkWaits(history()), 5)).toBe(false);
  });
});
