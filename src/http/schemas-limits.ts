import type { JsonSchema } from './route.js';
import { bool, int, nullable, ref, str } from './schema-parts.js';

// JSON Schemas of the flow-control routes (routes-limits.ts), part of SCHEMAS (schemas.ts).

const rate: JsonSchema = {
  type: 'object',
  properties: { perSecond: { type: 'number' }, burst: { type: 'number' }, cost: { type: 'number' } },
};
const cap: JsonSchema = { type: 'integer', minimum: 1, maximum: 1_000_000 };
const ratePatch: JsonSchema = {
  type: 'object',
  required: ['perSecond'],
  properties: {
    perSecond: { type: 'number', exclusiveMinimum: 0 },
    burst: { type: 'number', exclusiveMinimum: 0 },
    cost: { type: 'number', exclusiveMinimum: 0 },
  },
};

export const LIMIT_SCHEMAS: Record<string, JsonSchema> = {
  RateLimit: rate,
  QueueLimits: {
    type: 'object',
    description:
      "A queue's flow-control limits, enforced inside every claim across all workers (null: no such limit).",
    required: ['maxInFlight', 'rate', 'perKey'],
    properties: {
      maxInFlight: nullable(int),
      rate: nullable(ref('RateLimit')),
      perKey: {
        ...nullable({
          type: 'object',
          properties: { maxInFlight: nullable(int), rate: nullable(ref('RateLimit')) },
        }),
        description:
          'The default limits of every limit key, and fair share across keys; null: jobs are claimed ' +
          'without regard to their key.',
      },
    },
  },
  QueueLimitsPatch: {
    type: 'object',
    description:
      'Per limit a value, or null to remove it; limits left out stay as they are. rate.burst defaults to ' +
      'rate.perSecond, rate.cost to 1. perKey: {} turns on fair share across keys without per-key limits; ' +
      'null turns keys off.',
    properties: {
      maxInFlight: nullable(cap),
      rate: nullable(ratePatch),
      perKey: nullable({
        type: 'object',
        properties: { maxInFlight: nullable(cap), rate: nullable(ratePatch) },
      }),
    },
  },
  KeyLimits: {
    type: 'object',
    description: "One limit key's override of its queue's per-key defaults (null: the default applies).",
    required: ['maxInFlight', 'rate', 'weight'],
    properties: {
      maxInFlight: nullable(int),
      rate: nullable(ref('RateLimit')),
      weight: nullable(int),
    },
  },
  KeyLimitsPatch: {
    type: 'object',
    description:
      'Per field a value, or null to fall back to the default; fields left out stay as they are. weight: ' +
      'jobs the key may take per turn of the fair share (1 to 1000, default 1).',
    properties: {
      maxInFlight: nullable(cap),
      rate: nullable(ratePatch),
      weight: nullable({ type: 'integer', minimum: 1, maximum: 1000 }),
    },
  },
  KeyUsage: {
    type: 'object',
    description:
      "A key's limits in force (its override, else the queue's defaults) and its use now. Key '' stands " +
      'for the jobs without a limit key.',
    required: ['key', 'configured', 'maxInFlight', 'rate', 'weight', 'inFlight', 'ready', 'tokens'],
    properties: {
      key: str,
      configured: { ...bool, description: 'Whether the key has an override.' },
      maxInFlight: nullable(int),
      rate: nullable(ref('RateLimit')),
      weight: int,
      inFlight: int,
      ready: { ...int, description: 'Jobs of the key ready to run now (counted up to 10,000).' },
      tokens: nullable({ type: 'number' }),
    },
  },
  KeyPage: {
    type: 'object',
    required: ['items', 'nextAfter'],
    properties: {
      items: { type: 'array', items: ref('KeyUsage') },
      nextAfter: {
        ...nullable(str),
        description: 'Pass as `after` for the next page; null on the last page.',
      },
    },
  },
};
