import { describe, expect, it } from 'vitest';
import { compareJobIds } from '../../src/core/ids.js';

describe('compareJobIds', () => {
  it('orders ids numerically, across lengths, up to the largest bigint', () => {
    const ids = ['10', '9', '9223372036854775807', '100', '11', '1', '999999999999999999'];
    expect([...ids].sort(compareJobIds)).toEqual(
      [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0)),
    );
    expect(compareJobIds('42', '42')).toBe(0);
  });
});
