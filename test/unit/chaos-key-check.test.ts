import { describe, expect, it } from 'vitest';
import { checkKeys, K0_CAP, KEY_CAP, QUEUE_CAP, type KeyExec, type KeyHistory } from '../../chaos/keys.js';

// The chaos checker's verdict on flow-control limits: every keyed job finished exactly once, and the
// runs that held a lease throughout (accepted, or threw and were retried after they ended) never ran
// more of a key, or of the queue, at once than its limit. Runs a fault cut short or fenced do not count.
const T = 1_000_000;

function run(
  k: number,
  key: string,
  start: number,
  end: number | null,
  outcome: string | null = 'ok',
  attempt = 1,
): KeyExec {
  return { jobId: String(k), k, key, attempt, start, end, outcome };
}

function history(execs: KeyExec[], extra: Partial<KeyHistory> = {}): KeyHistory {
  const planned = new Map<number, { key: string; fail: number }>();
  const finished = new Map<number, { attempts: number; dead: boolean }[]>();
  for (const e of execs) {
    planned.set(e.k, { key: e.key, fail: 0 });
    if (e.outcome === 'ok') finished.set(e.k, [{ attempts: e.attempt, dead: false }]);
  }
  return { planned, execs, finished, ...extra };
}

describe('chaos check: flow-control limits', () => {
  it('passes runs of a key that take turns within its limit', () => {
    const f = checkKeys(
      history([run(1, 'k1', T, T + 100), run(2, 'k1', T + 50, T + 150), run(3, 'k1', T + 100, T + 200)]),
    );
    expect(f).toMatchObject({ jobs: 3, missing: 0, key_over: 0, key_peak: KEY_CAP, queue_over: 0 });
  });

  it('flags a key above its limit, and the override of k0', () => {
    const three = (key: string, k0: number) => [0, 1, 2].map((i) => run(k0 + i, key, T + i, T + 100));
    expect(checkKeys(history(three('k1', 1))).key_over).toBe(1);
    expect(checkKeys(history(three('k0', 1))).key_over).toBe(0);
    expect(checkKeys(history([...three('k0', 1), run(9, 'k0', T + 5, T + 50)])).key_over).toBe(
      K0_CAP + 1 - K0_CAP,
    );
  });

  it('flags the queue above its cap across keys', () => {
    const runs = Array.from({ length: QUEUE_CAP + 1 }, (_, i) =>
      run(i + 1, `k${(i % 7) + 1}`, T + i, T + 100),
    );
    const f = checkKeys(history(runs));
    expect(f.queue_over).toBe(1);
    expect(f.key_over).toBe(0);
  });

  it('leaves out runs cut short by a kill and runs whose write was fenced', () => {
    // Job 1 ran on a worker that was paused: its lease was reclaimed, attempt 2 ran and was accepted,
    // then the paused run ended (its write fenced). Job 2 was killed mid-run (no end).
    const execs = [
      run(1, 'k1', T, T + 500, 'ok', 1),
      run(1, 'k1', T + 100, T + 200, 'ok', 2),
      run(2, 'k1', T + 110, null, null, 1),
      run(2, 'k1', T + 300, T + 400, 'ok', 2),
      run(3, 'k1', T + 150, T + 190, 'ok', 1),
    ];
    const f = checkKeys(history(execs));
    expect(f.key_over).toBe(0);
    expect(f.key_peak).toBe(2);
  });

  it('counts a run that threw only when its retry started after it ended', () => {
    const retried = [run(1, 'k1', T, T + 100, 'threw', 1), run(1, 'k1', T + 150, T + 200, 'ok', 2)];
    const early = [run(1, 'k1', T, T + 100, 'threw', 1), run(1, 'k1', T + 95, T + 200, 'ok', 2)];
    const with2 = (base: KeyExec[]) => [...base, run(2, 'k1', T + 10, T + 90), run(3, 'k1', T + 20, T + 80)];
    expect(checkKeys(history(with2(retried))).key_over).toBe(1);
    expect(checkKeys(history(with2(early))).key_over).toBe(0);
  });

  it('flags a job that never finished or finished twice', () => {
    const h = history([run(1, 'k1', T, T + 100)]);
    h.planned.set(2, { key: 'k2', fail: 0 });
    h.finished.set(1, [
      { attempts: 1, dead: false },
      { attempts: 2, dead: true },
    ]);
    const f = checkKeys(h);
    expect(f.missing).toBe(1);
    expect(f.multi_terminal).toBe(1);
  });
});
