import { ValidationError } from '../errors.js';

/**
 * Opaque keyset-pagination cursors: base64url of a JSON array `[kind, ...parts]`. The kind stops a cursor
 * of one listing from being replayed against another; decoding is strict (canonical encoding, exact shape)
 * so a hand-edited cursor is a ValidationError, never a silently different page.
 */
export function encodeCursor(kind: string, parts: readonly string[]): string {
  return Buffer.from(JSON.stringify([kind, ...parts]), 'utf8').toString('base64url');
}

/**
 * Returns the cursor's parts; the caller validates each one (e.g. with toJobId). `maxLength` bounds the
 * encoded cursor (listings keyed by long strings, such as group keys, need more than ids).
 */
export function decodeCursor(
  value: unknown,
  field: string,
  kind: string,
  arity: number,
  maxLength = 512,
): string[] {
  const bad = (): never => {
    throw new ValidationError(field, value, 'is not a cursor returned by this listing');
  };
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > maxLength ||
    !/^[A-Za-z0-9_-]+$/.test(value)
  ) {
    return bad();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== arity + 1 ||
    parsed[0] !== kind ||
    !parsed.every((p) => typeof p === 'string')
  ) {
    return bad();
  }
  const parts = parsed.slice(1) as string[];
  if (encodeCursor(kind, parts) !== value) return bad();
  return parts;
}
