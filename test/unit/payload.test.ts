import { describe, expect, it } from 'vitest';
import { encodePayload } from '../../src/core/payload.js';
import { PayloadError, PayloadTooLargeError } from '../../src/errors.js';

describe('encodePayload', () => {
  it('encodes ordinary JSON values, Dates and toJSON objects', () => {
    expect(encodePayload({ a: [1, 'x', null, true], d: new Date(0) })).toBe(
      '{"a":[1,"x",null,true],"d":"1970-01-01T00:00:00.000Z"}',
    );
    expect(encodePayload('😀')).toBe('"😀"');
    expect(encodePayload(null)).toBe('null');
  });

  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  let deep: unknown = 1;
  for (let i = 0; i < 10_000; i++) deep = [deep];

  it.each([
    ['undefined', undefined, 'undefined is not JSON'],
    ['a function', { f: () => 1 }, 'a function is not JSON'],
    ['a symbol', [Symbol('s')], 'a symbol is not JSON'],
    ['a BigInt', { n: 1n }, 'BigInt'],
    ['a cycle', cyclic, 'circular'],
    ['NaN', { n: NaN }, 'finite'],
    ['Infinity', [Infinity], 'finite'],
    ['a NUL character', { s: 'a\u0000b' }, 'NUL'],
    ['a lone surrogate', { s: '\ud800' }, 'surrogate'],
    ['a NUL in a key', { ['k\u0000']: 1 }, 'NUL'],
    ['an invalid Date', { d: new Date(NaN) }, 'invalid Date'],
    ['a Map', { m: new Map() }, 'Map'],
    ['10,000 levels of nesting', deep, 'nesting deeper'],
  ])('rejects %s with a PayloadError naming the problem', (_name, value, message) => {
    let error: unknown;
    try {
      encodePayload(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PayloadError);
    expect((error as PayloadError).code).toBe('PAYLOAD_NOT_SERIALIZABLE');
    expect((error as Error).message).toContain(message);
  });

  it('rejects payloads over the byte limit, counting UTF-8 bytes', () => {
    expect(() => encodePayload('é'.repeat(600), 1000)).toThrow(PayloadTooLargeError);
    expect(encodePayload('e'.repeat(600), 1000)).toHaveLength(602);
  });
});
