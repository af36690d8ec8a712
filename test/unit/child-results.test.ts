import { describe, expect, it } from 'vitest';
import { mergeChildOutcomes } from '../../src/core/child-results.js';

const m = <V>(entries: [string, V][]) => new Map(entries);

describe('mergeChildOutcomes', () => {
  it('is empty when nothing is known', () => {
    expect(mergeChildOutcomes(new Map(), new Map(), null).size).toBe(0);
  });

  it('takes results as successes and dead-letter errors as failures', () => {
    const out = mergeChildOutcomes(m([['1', { a: 1 }]]), m([['2', 'boom']]), null);
    expect([...out]).toEqual([
      ['1', { ok: true, value: { a: 1 } }],
      ['2', { ok: false, error: 'boom' }],
    ]);
  });

  it('uses the snapshot for children with no fresher information', () => {
    const out = mergeChildOutcomes(new Map(), new Map(), { '7': 'from snapshot', '8': null });
    expect(out.get('7')).toEqual({ ok: true, value: 'from snapshot' });
    expect(out.get('8')).toEqual({ ok: true, value: null });
  });

  it('precedence: dead-letter error > result > snapshot', () => {
    const out = mergeChildOutcomes(
      m<unknown>([
        ['1', 'result-1'],
        ['2', 'result-2'],
      ]),
      m([['1', 'dead-1']]),
      { '1': 'snap-1', '2': 'snap-2', '3': 'snap-3' },
    );
    expect(out.get('1')).toEqual({ ok: false, error: 'dead-1' });
    expect(out.get('2')).toEqual({ ok: true, value: 'result-2' });
    expect(out.get('3')).toEqual({ ok: true, value: 'snap-3' });
  });

  it('a dead-letter error beats a snapshot entry for the same child', () => {
    const out = mergeChildOutcomes(new Map(), m([['5', 'dead']]), { '5': 'ok before' });
    expect(out.get('5')).toEqual({ ok: false, error: 'dead' });
  });

  it('ignores snapshots that are not objects keyed by job id', () => {
    for (const snap of [null, undefined, 42, 'text', true, [1, 2], ['x']]) {
      expect(mergeChildOutcomes(new Map(), new Map(), snap).size).toBe(0);
    }
    const out = mergeChildOutcomes(new Map(), new Map(), { '12': 1, abc: 2, '0': 3, '-4': 4, '01': 5 });
    expect([...out.keys()]).toEqual(['12']);
  });

  it('orders children by numeric id, beyond the safe integer range too', () => {
    const big = '9223372036854775807';
    const out = mergeChildOutcomes(
      m<unknown>([
        [big, 'b'],
        ['10', 'x'],
      ]),
      m([['9', 'e']]),
      { '100': 's', '2': 's' },
    );
    expect([...out.keys()]).toEqual(['2', '9', '10', '100', big]);
  });

  it('does not modify its inputs', () => {
    const results = m<unknown>([['1', 'r']]);
    const errors = m([['1', 'e']]);
    const snapshot = { '1': 's' };
    mergeChildOutcomes(results, errors, snapshot);
    expect([...results]).toEqual([['1', 'r']]);
    expect([...errors]).toEqual([['1', 'e']]);
    expect(snapshot).toEqual({ '1': 's' });
  });
});
