import { describe, expect, it } from 'vitest';
import { checkFlows, type FlowHistory, type NodeRec, type Tracked } from '../../chaos/flow-check.js';
import type { Fault } from '../../chaos/faults.js';
import type { Delivery } from '../../chaos/flows.js';
import type { Exec } from '../../chaos/load.js';

// The chaos checker's verdict on flows and awaited results: a node may start only once its dependencies
// succeeded (or finished, under 'continue'), each flow ends as its dependencies' states and the failure
// policy require, nothing is left unsettled, and every awaited result is delivered exactly.
const T = 1_000_000;
const DEPS: Record<string, string[]> = { a: [], b: ['a'], c: ['a'], d: ['b', 'c'] };
const ID: Record<string, string> = { a: '1', b: '2', c: '3', d: '4' };

function exec(id: string, start: number, end: number | null, outcome: string | null, attempt = 1): Exec {
  return {
    jobId: id,
    attempt,
    maxAttempts: 3,
    worker: 'w1',
    start,
    end,
    outcome,
    childrenPending: outcome === 'ok' ? 0 : null,
    childrenSeen: outcome === 'ok' ? DEPS[Object.keys(ID).find((n) => ID[n] === id)!]!.length : null,
  };
}

/** A diamond where every node ran once, 100 ms each, in dependency order, and succeeded. */
function diamond(policy = 'cancel', fail: Record<string, number> = {}): FlowHistory {
  const nodes: NodeRec[] = Object.keys(DEPS).map((n, i) => ({
    flow: 0,
    node: n,
    id: ID[n]!,
    deps: DEPS[n]!,
    policy: n === 'd' ? policy : 'cancel',
    fail: fail[n] ?? 0,
    k: 100 + i,
  }));
  const starts: Record<string, number> = { a: T, b: T + 200, c: T + 200, d: T + 400 };
  const execs = new Map<string, Exec[]>();
  const tracked = new Map<string, Tracked>();
  for (const n of nodes) {
    execs.set(n.id, [exec(n.id, starts[n.node]!, starts[n.node]! + 100, 'ok')]);
    tracked.set(n.id, { state: 'succeeded', result: { k: n.k }, finishedAt: starts[n.node]! + 110 });
  }
  return {
    nodes,
    awaited: [],
    execs,
    tracked,
    queued: new Map(),
    dlq: new Map(),
    delivered: new Map(),
  };
}

/** Node b dead-lettered after three thrown attempts. */
function bFailed(h: FlowHistory): void {
  h.execs.set(ID.b!, [
    exec(ID.b!, T + 200, T + 220, 'threw', 1),
    exec(ID.b!, T + 800, T + 820, 'threw', 2),
    exec(ID.b!, T + 1_800, T + 1_820, 'threw', 3),
  ]);
  h.tracked.set(ID.b!, { state: 'failed', result: null, finishedAt: T + 1_830 });
  h.dlq.set(ID.b!, { attempts: 3, at: T + 1_830, maxAttempts: 3, error: 'injected failure' });
}

describe('chaos checker: flows', () => {
  it('passes a diamond run in dependency order', () => {
    const fig = checkFlows(diamond(), []);
    expect(fig.details).toEqual([]);
    expect(fig).toMatchObject({ flows: 1, flow_nodes: 4, flow_early: 0, flow_stuck: 0, flow_bad: 0 });
  });

  it('reports a node started before a dependency was acked', () => {
    const h = diamond();
    // c's ack (its transaction's now()) is after d's start at T+400.
    h.tracked.set(ID.c!, { state: 'succeeded', result: { k: 102 }, finishedAt: T + 410 });
    const fig = checkFlows(h, []);
    expect(fig.flow_early).toBe(1);
    expect(fig.details[0]).toContain('node d');
  });

  it('reports a node that saw an unfinished dependency at run time', () => {
    const h = diamond();
    h.execs.get(ID.d!)![0]!.childrenPending = 1;
    expect(checkFlows(h, []).flow_early).toBe(1);
  });

  it("applies 'cancel': the dependent is cancelled and never runs", () => {
    const h = diamond('cancel', { b: 2 });
    bFailed(h);
    h.execs.delete(ID.d!);
    h.tracked.set(ID.d!, { state: 'cancelled', result: null, finishedAt: T + 1_830 });
    h.queued.set(ID.d!, true); // parked, suspended
    const fig = checkFlows(h, []);
    expect(fig.details).toEqual([]);
    expect(fig).toMatchObject({ flow_bad: 0, flow_stuck: 0, flow_early: 0, flow_cancelled: 1 });
  });

  it("reports a node that ran although 'cancel' applied", () => {
    const h = diamond('cancel', { b: 2 });
    bFailed(h);
    h.execs.set(ID.d!, [exec(ID.d!, T + 2_000, T + 2_100, 'ok')]);
    h.tracked.set(ID.d!, { state: 'succeeded', result: { k: 103 }, finishedAt: T + 2_110 });
    const fig = checkFlows(h, []);
    expect(fig.flow_bad).toBe(1);
    expect(fig.flow_early).toBe(1);
  });

  it("applies 'continue': the dependent runs after the failure and succeeds", () => {
    const h = diamond('continue', { b: 2 });
    bFailed(h);
    const d = exec(ID.d!, T + 2_000, T + 2_100, 'ok');
    d.childrenSeen = 1;
    h.execs.set(ID.d!, [d]);
    h.tracked.set(ID.d!, { state: 'succeeded', result: { k: 103 }, finishedAt: T + 2_110 });
    const ok = checkFlows(h, []);
    expect(ok.details).toEqual([]);
    expect(ok).toMatchObject({ flow_bad: 0, flow_early: 0, flow_continued: 1 });
    // Cancelled instead: the policy was not applied.
    h.execs.delete(ID.d!);
    h.tracked.set(ID.d!, { state: 'cancelled', result: null, finishedAt: T + 1_830 });
    expect(checkFlows(h, []).flow_bad).toBe(1);
    // Run before b was dead-lettered: early.
    h.execs.set(ID.d!, [{ ...d, start: T + 1_000 }]);
    h.tracked.set(ID.d!, { state: 'succeeded', result: { k: 103 }, finishedAt: T + 1_110 });
    expect(checkFlows(h, []).flow_early).toBe(1);
  });

  it('reports nodes left unsettled after the drain', () => {
    const h = diamond();
    h.tracked.set(ID.d!, { state: 'unfinished', result: null, finishedAt: null });
    h.queued.set(ID.d!, true);
    h.queued.set(ID.c!, false); // succeeded, yet still claimable
    const fig = checkFlows(h, []);
    expect(fig.flow_stuck).toBe(2);
  });

  it('accepts a dead-lettered node only when faults explain every attempt', () => {
    const h = diamond();
    h.execs.set(ID.a!, [
      exec(ID.a!, T, null, null, 1),
      exec(ID.a!, T + 6_000, null, null, 2),
      exec(ID.a!, T + 12_000, null, null, 3),
    ]);
    h.tracked.set(ID.a!, { state: 'failed', result: null, finishedAt: T + 18_000 });
    h.dlq.set(ID.a!, { attempts: 3, at: T + 18_000, maxAttempts: 3, error: 'lease expired' });
    for (const n of ['b', 'c', 'd']) {
      h.execs.delete(ID[n]!);
      h.tracked.set(ID[n]!, { state: 'cancelled', result: null, finishedAt: T + 18_000 });
      h.queued.set(ID[n]!, true);
    }
    const kill = (at: number): Fault => ({ kind: 'kill', at, workers: ['w1'], detail: 'SIGKILL' });
    const explained = checkFlows(h, [kill(T + 50), kill(T + 6_050), kill(T + 12_050)]);
    expect(explained.details).toEqual([]);
    expect(explained).toMatchObject({ flow_bad: 0, flow_dlq_by_faults: 1 });
    expect(checkFlows(h, [kill(T + 50)])).toMatchObject({ flow_bad: 1, flow_dlq_by_faults: 0 });
  });
});

describe('chaos checker: awaited results', () => {
  function awaited(fail: number, delivered: Delivery | undefined, tracked: Tracked): FlowHistory {
    const h = diamond();
    h.nodes = [];
    h.awaited = [{ id: '9', k: 7, fail }];
    h.tracked.set('9', tracked);
    if (delivered) h.delivered.set('9', delivered);
    return h;
  }
  const ok: Tracked = { state: 'succeeded', result: { k: 7 }, finishedAt: T };
  const failed: Tracked = { state: 'failed', result: null, finishedAt: T };

  it('passes a result delivered as recorded', () => {
    const fig = checkFlows(awaited(0, { state: 'succeeded', value: { k: 7 }, via: 'handle' }, ok), []);
    expect(fig).toMatchObject({ results: 1, results_missing: 0, results_wrong: 0 });
  });

  it('reports a result never delivered', () => {
    expect(checkFlows(awaited(0, undefined, ok), []).results_missing).toBe(1);
  });

  it('reports a wrong value, and a value delivered for a job that failed', () => {
    const wrong = { state: 'succeeded' as const, value: { k: 8 }, via: 'awaitResult' as const };
    expect(checkFlows(awaited(0, wrong, ok), []).results_wrong).toBe(1);
    const right = { state: 'succeeded' as const, value: { k: 7 }, via: 'awaitResult' as const };
    expect(checkFlows(awaited(2, right, failed), []).results_wrong).toBe(1);
  });

  it("delivers an always-failing job's failure, and reports an unexplained one", () => {
    const dead: Delivery = { state: 'failed', reason: 'injected failure', via: 'handle' };
    const h = awaited(2, dead, failed);
    expect(checkFlows(h, [])).toMatchObject({ results_wrong: 0, results_missing: 0 });
    const meantToSucceed = awaited(0, dead, failed);
    meantToSucceed.dlq.set('9', { attempts: 3, at: T, maxAttempts: 3, error: 'x' });
    expect(checkFlows(meantToSucceed, []).results_wrong).toBe(1);
  });
});
