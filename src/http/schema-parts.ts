import type { JsonSchema } from './route.js';

// The building blocks of the API's JSON Schemas (schemas.ts and its parts).

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const str: JsonSchema = { type: 'string' };
export const int: JsonSchema = { type: 'integer' };
export const bool: JsonSchema = { type: 'boolean' };
export const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
export const nullable = (s: JsonSchema): JsonSchema => ({ oneOf: [s, { type: 'null' }] });
export const id: JsonSchema = {
  type: 'string',
  pattern: '^[1-9][0-9]{0,18}$',
  description: 'A job id (decimal string).',
};
// The bulk cap of every { ids } route (MAX_BULK_IDS in routes-jobs.ts, checked by a test).
export const idList: JsonSchema = {
  type: 'array',
  items: { oneOf: [id, { type: 'integer', minimum: 1 }] },
  maxItems: 1000,
};
