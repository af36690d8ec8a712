import { createContext, runInContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CLIENT_WHY } from '../../src/ui/assets/client-why.js';

// The "why isn't this running?" rules, run in a bare VM context (no browser needed) on job objects
// shaped like the API's JSON. The browser suites check the same answers end to end.
type Fn = (...args: unknown[]) => unknown;
const ctx = createContext({ fmtTime: (v: string) => v, fmtRel: () => 'soon', BigInt });
runInContext(CLIENT_WHY, ctx);
const whyNotRunning = ctx.whyNotRunning as Fn;
const analyzeGroup = ctx.analyzeGroup as Fn;

const NOW = Date.parse('2026-01-01T12:00:00Z');
const at = (ms: number) => new Date(NOW + ms).toISOString();
const job = (o: Record<string, unknown> = {}) => ({
  id: '10',
  queue: 'q',
  groupKey: null,
  priority: 0,
  runAt: at(-1000),
  leasedUntil: null,
  attempts: 0,
  maxAttempts: 3,
  lastError: null,
  suspended: false,
  workerId: null,
  status: 'ready',
  ...o,
});
const live = [{ id: 'w1', queues: ['q'], lastHeartbeat: at(-1000) }];
const codes = (j: unknown, extra: Record<string, unknown> = {}) =>
  (whyNotRunning(j, { now: NOW, workers: live, group: null, ...extra }) as { code: string }[]).map(
    (r) => r.code,
  );

describe('whyNotRunning', () => {
  it('names the one reason of each state', () => {
    expect(codes(job({ leasedUntil: at(5000), attempts: 1, workerId: 'w1' }))).toEqual(['in-flight']);
    expect(codes(job({ runAt: at(60_000), status: 'scheduled' }))).toEqual(['delayed']);
    expect(codes(job({ runAt: at(60_000), attempts: 1, status: 'retrying' }))).toEqual(['retry-backoff']);
    expect(codes(job({ suspended: true, status: 'suspended' }))).toEqual(['suspended']);
    expect(
      codes(job({ suspended: true, status: 'waiting' }), { children: { count: 2, more: false } }),
    ).toEqual(['waiting-children']);
    expect(codes(job({ leasedUntil: at(-5000), attempts: 3, status: 'exhausted' }))).toEqual(['exhausted']);
    expect(codes(job())).toEqual(['ready']);
    expect(codes(job(), { workers: [] })).toEqual(['no-worker']);
    expect(codes(job(), { queuePaused: true })).toEqual(['queue-paused']);
    expect(codes(job({ runAt: at(60_000) }), { queuePaused: true })).toEqual(['queue-paused', 'delayed']);
  });

  it('explains group blocking: in flight, retry backoff, or behind the head', () => {
    const mine = job({ id: '12', groupKey: 'g' });
    const head = job({ id: '11', groupKey: 'g' });
    const running = job({ id: '5', groupKey: 'g', leasedUntil: at(9000), attempts: 1 });
    const retrying = job({ id: '6', groupKey: 'g', runAt: at(9000), attempts: 1 });
    const delayed = job({ id: '2', groupKey: 'g', runAt: at(9000) }); // never blocks its group
    const g = (active: unknown[], pending: unknown[]) => analyzeGroup(active, pending, NOW);
    expect(codes(mine, { group: g([running], [head, mine, delayed]) })).toEqual(['group-in-flight']);
    expect(codes(mine, { group: g([retrying], [head, mine]) })).toEqual(['group-retry']);
    expect(codes(mine, { group: g([], [mine, head, delayed]) })).toEqual(['behind-head']);
    expect(codes(head, { group: g([], [mine, head, delayed]) })).toEqual(['ready']);
    // Priority comes before id inside a group.
    expect(codes(head, { group: g([], [job({ id: '12', groupKey: 'g', priority: -1 }), head]) })).toEqual([
      'behind-head',
    ]);
  });
});
