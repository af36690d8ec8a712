import type { JsonSchema } from './route.js';
import { dateTime, id, int, nullable, ref, str } from './schema-parts.js';

// JSON Schemas of the flow and result routes (routes-flows.ts), part of SCHEMAS (schemas.ts).

export const FLOW_SCHEMAS: Record<string, JsonSchema> = {
  FlowRequest: {
    type: 'object',
    required: ['nodes'],
    properties: {
      name: str,
      retainMs: { type: 'number', minimum: 1 },
      nodes: {
        type: 'object',
        description: 'Node name -> node. Names: letters, digits, _ - . (1 to 64). At most 1,000 nodes.',
        maxProperties: 1000,
        additionalProperties: {
          type: 'object',
          required: ['queue', 'payload'],
          properties: {
            queue: str,
            payload: { description: 'Any JSON value.' },
            dependsOn: { type: 'array', items: str },
            onDependencyFailure: { enum: ['cancel', 'continue'] },
            options: {
              type: 'object',
              properties: {
                groupKey: nullable(str),
                limitKey: nullable(str),
                priority: int,
                delayMs: { type: 'number', minimum: 0 },
                runAt: dateTime,
                maxAttempts: int,
                meta: nullable({ type: 'object' }),
              },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      },
    },
    additionalProperties: false,
  },
  FlowCreated: {
    type: 'object',
    required: ['id', 'jobs'],
    properties: { id, name: nullable(str), jobs: { type: 'object', additionalProperties: ref('Job') } },
  },
  FlowNode: {
    type: 'object',
    required: ['name', 'queue', 'jobId', 'state', 'dependsOn', 'waitingFor'],
    properties: {
      name: str,
      queue: str,
      jobId: id,
      state: {
        type: 'string',
        description: 'waiting, a live job status, or succeeded / failed / cancelled.',
      },
      dependsOn: { type: 'array', items: str },
      onDependencyFailure: { enum: ['cancel', 'continue'] },
      waitingFor: { type: 'array', items: str },
      result: {},
      error: nullable(str),
      finishedAt: nullable(dateTime),
    },
  },
  Flow: {
    type: 'object',
    required: ['id', 'state', 'nodes'],
    properties: {
      id,
      name: nullable(str),
      state: { enum: ['active', 'succeeded', 'failed', 'cancelled'] },
      createdAt: dateTime,
      cancelledAt: nullable(dateTime),
      finishedAt: nullable(dateTime),
      nodes: { type: 'array', items: ref('FlowNode') },
    },
  },
  FlowSummary: {
    type: 'object',
    required: ['id', 'state', 'nodeCount', 'counts'],
    properties: {
      id,
      name: nullable(str),
      state: { enum: ['active', 'succeeded', 'failed', 'cancelled'] },
      nodeCount: int,
      counts: {
        type: 'object',
        properties: { unfinished: int, succeeded: int, failed: int, cancelled: int },
      },
      createdAt: dateTime,
      finishedAt: nullable(dateTime),
    },
  },
  JobResult: {
    type: 'object',
    required: ['queue', 'jobId', 'state'],
    properties: {
      queue: str,
      jobId: id,
      state: { enum: ['unfinished', 'succeeded', 'failed', 'cancelled'] },
      value: {},
      error: nullable(str),
      flowId: nullable(id),
      node: nullable(str),
      createdAt: dateTime,
      finishedAt: nullable(dateTime),
      expiresAt: nullable(dateTime),
    },
  },
};
