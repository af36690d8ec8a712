import { dateTime, int, nullable, str } from './schema-parts.js';
import type { JsonSchema } from './route.js';

// JSON Schemas of what running jobs report and keep: reports, failed attempts, durable steps, waits and
// events (routes-reports.ts, routes-steps.ts), part of SCHEMAS (schemas.ts).

export const REPORT_SCHEMAS: Record<string, JsonSchema> = {
  JobReport: {
    type: 'object',
    required: ['attempt', 'progress', 'meta', 'logs', 'updatedAt'],
    properties: {
      attempt: { ...int, description: 'The attempt that wrote last.' },
      progress: { description: "That attempt's last progress: a number, an object, or null." },
      meta: { ...nullable({ type: 'object' }), description: 'Every setMeta patch, merged.' },
      logs: {
        type: 'array',
        maxItems: 200,
        description: 'The newest log lines (at most 200, each at most 2,048 bytes), oldest first.',
        items: {
          type: 'object',
          required: ['at', 'attempt', 'message'],
          properties: { at: dateTime, attempt: int, message: str },
        },
      },
      updatedAt: dateTime,
    },
  },
  JobAttempt: {
    type: 'object',
    required: ['attempt', 'error', 'workerId', 'startedAt', 'durationMs', 'failedAt'],
    properties: {
      attempt: int,
      error: str,
      workerId: { ...nullable(str), description: 'The worker that ran it.' },
      startedAt: nullable(dateTime),
      durationMs: { ...nullable(int), description: 'From the claim to the failure (database clock).' },
      failedAt: dateTime,
    },
  },
  JobStep: {
    type: 'object',
    required: ['name', 'kind', 'attempt', 'finishedAt'],
    properties: {
      name: {
        ...str,
        description: 'The step name; sleeps, waits and ctx.run are `$sleep:n`, `$wait:n`, `$run:n`.',
      },
      kind: { enum: ['step', 'sleep', 'event', 'timeout', 'run'] },
      result: { description: 'The stored JSON result; absent when the step returned nothing.' },
      attempt: { ...int, description: 'The attempt that recorded it (0: an emit).' },
      finishedAt: dateTime,
    },
  },
  JobWait: {
    type: 'object',
    required: ['kind', 'event', 'until', 'step', 'since'],
    properties: {
      kind: { enum: ['event', 'sleep'] },
      event: nullable(str),
      until: {
        ...nullable(dateTime),
        description: "The wait's timeout or the sleep's end; null: no timeout.",
      },
      step: str,
      since: dateTime,
    },
  },
  EventInfo: {
    type: 'object',
    required: ['name', 'emittedAt', 'emits', 'released', 'waiting'],
    properties: {
      name: str,
      payload: { description: 'The latest payload; absent when never emitted.' },
      emittedAt: nullable(dateTime),
      emits: int,
      released: int,
      waiting: { ...int, description: 'Jobs waiting for it now.' },
    },
  },
};
