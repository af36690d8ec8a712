import { describe, expect, it } from 'vitest';
import { check } from '../../chaos/check.js';
import { QUEUES } from '../../chaos/common.js';
import type { Fault } from '../../chaos/faults.js';
import type { Exec, History } from '../../chaos/load.js';

// The chaos checker's verdict on dead letters: a job that was meant to succeed may end in the dead-letter
// table only when every attempt it spent is explained, by its own injected failure or by a fault.
const T = 1_000_000;

function history(
  fail: number,
  execs: Omit<Exec, 'jobId' | 'childrenPending' | 'childrenSeen' | 'maxAttempts'>[],
  dlq: { attempts: number; at: number; maxAttempts?: number },
): History {
  const key = `${QUEUES.hist}:7`;
  return {
    jobs: new Map([
      [key, { key, id: '7', queue: QUEUES.hist, kind: 'plain', group: null, tree: null, fail }],
    ]),
    execs: new Map([
      [
        key,
        execs.map((e) => ({ ...e, maxAttempts: 3, jobId: '7', childrenPending: null, childrenSeen: null })),
      ],
    ]),
    remaining: new Set(),
    dlq: new Map([[key, [{ maxAttempts: 3, ...dlq, error: 'lease expired' }]]]),
    hist: new Map(),
    effects: new Map(),
    acks: new Map(),
    attemptsOver: [],
  };
}

const kill = (worker: string, at: number): Fault => ({
  kind: 'kill',
  at,
  workers: [worker],
  detail: 'SIGKILL',
});
const pause = (worker: string, at: number, until: number): Fault => ({
  kind: 'pause',
  at,
  until,
  workers: [worker],
  detail: 'SIGSTOP',
});

describe('chaos checker: dead letters', () => {
  // Attempt 1 threw (its budgeted failure), attempt 2's worker was killed, and attempt 3 was claimed
  // into a worker that was paused before it started the handler: three attempts, all explained.
  const execs = [
    { attempt: 1, worker: 'w12', start: T, end: T + 24, outcome: 'threw' },
    { attempt: 2, worker: 'w16', start: T + 668, end: null, outcome: null },
  ];

  it('explains an attempt spent by a claim that never reached the handler', () => {
    const fig = check(history(1, execs, { attempts: 3, at: T + 20_000 }), [
      kill('w16', T + 678),
      pause('w12', T + 1_103, T + 11_119),
    ]);
    expect(fig.details).toEqual([]);
    expect(fig).toMatchObject({ unexpected: 0, dlq_by_faults: 1, lost: 0 });
  });

  it('does not let one fault explain two attempts', () => {
    const fig = check(history(1, execs, { attempts: 3, at: T + 20_000 }), [kill('w16', T + 678)]);
    expect(fig).toMatchObject({ unexpected: 1, dlq_by_faults: 0 });
    expect(fig.details[0]).toContain('attempts explained: ["handler-failure","kill",null]');
  });

  it('reports a dead letter with no fault at all', () => {
    const fig = check(history(1, execs.slice(0, 1), { attempts: 3, at: T + 20_000 }), []);
    expect(fig).toMatchObject({ unexpected: 1, dlq_by_faults: 0 });
  });

  it('reports a second injected failure as unexplained', () => {
    const threwTwice = [
      execs[0]!,
      { attempt: 2, worker: 'w16', start: T + 668, end: T + 700, outcome: 'threw' },
    ];
    const fig = check(history(1, threwTwice, { attempts: 3, at: T + 20_000 }), [kill('w16', T + 10_000)]);
    expect(fig).toMatchObject({ unexpected: 1, dlq_by_faults: 0 });
  });

  it('counts an attempt given back unrun, which raised the budget, as explained', () => {
    // Attempt 2 was claimed into a buffer and given back unrun (budget 3 -> 4); attempt 3's worker was
    // killed, attempt 4's too.
    const run = [
      execs[0]!,
      { attempt: 3, worker: 'w16', start: T + 668, end: null, outcome: null },
      { attempt: 4, worker: 'w17', start: T + 9_000, end: null, outcome: null },
    ];
    const faults = [kill('w16', T + 678), kill('w17', T + 9_010)];
    const given = check(history(1, run, { attempts: 4, at: T + 20_000, maxAttempts: 4 }), faults);
    expect(given).toMatchObject({ unexpected: 0, dlq_by_faults: 1 });
    // The same attempts without a raised budget: attempt 2 is unexplained.
    const notGiven = check(history(1, run, { attempts: 4, at: T + 20_000 }), faults.slice(1));
    expect(notGiven).toMatchObject({ unexpected: 1, dlq_by_faults: 0 });
  });
});
