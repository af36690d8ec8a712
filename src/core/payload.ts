import { PayloadError, PayloadTooLargeError } from '../errors.js';
import { isWellFormed } from './validate.js';

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_PAYLOAD_DEPTH = 100;

/**
 * Turns a payload into the JSON text stored in the jsonb column, refusing anything JSON.stringify would
 * silently change or PostgreSQL would reject: undefined, functions, symbols, BigInt, cycles, NaN and
 * Infinity, strings with NUL or lone surrogates, nesting deeper than MAX_PAYLOAD_DEPTH, and documents
 * larger than `maxBytes` (UTF-8).
 */
export function encodePayload(value: unknown, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): string {
  check(value, '$', 0, new Set());
  const text = JSON.stringify(value);
  // Fast path: a string of n UTF-16 units is at most 3n UTF-8 bytes.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
  }
  return text;
}

function check(value: unknown, path: string, depth: number, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new PayloadError(path, value, 'numbers must be finite');
      return;
    case 'boolean':
      return;
    case 'undefined':
      throw new PayloadError(path, value, 'undefined is not JSON');
    case 'bigint':
      throw new PayloadError(path, value, 'BigInt is not JSON (convert it to a string)');
    case 'function':
    case 'symbol':
      throw new PayloadError(path, value, `a ${typeof value} is not JSON`);
    case 'object':
      break;
  }
  if (value === null) return;
  const obj = value as object;
  if (depth >= MAX_PAYLOAD_DEPTH)
    throw new PayloadError(path, 'nested', `nesting deeper than ${MAX_PAYLOAD_DEPTH}`);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    if (obj instanceof Date) {
      if (Number.isNaN(obj.getTime())) throw new PayloadError(path, obj, 'invalid Date');
      return;
    }
    check((obj as { toJSON: () => unknown }).toJSON(), path, depth, seen);
    return;
  }
  if (seen.has(obj)) throw new PayloadError(path, 'circular', 'circular reference');
  seen.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) check(obj[i], `${path}[${i}]`, depth + 1, seen);
  } else {
    if (obj instanceof Map || obj instanceof Set) {
      throw new PayloadError(
        path,
        obj,
        `a ${obj.constructor.name} is not JSON (convert it to an array or object)`,
      );
    }
    for (const key of Object.keys(obj)) {
      checkString(key, `${path} (key)`);
      check((obj as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen);
    }
  }
  seen.delete(obj);
}

function checkString(value: string, path: string): void {
  if (value.includes('\u0000')) throw new PayloadError(path, value, 'strings may not contain NUL (\\u0000)');
  if (!isWellFormed(value)) throw new PayloadError(path, value, 'string contains a lone surrogate');
}
