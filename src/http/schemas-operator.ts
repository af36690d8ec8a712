import { bool, dateTime, id, int, nullable, ref, str } from './schema-parts.js';
import type { JsonSchema } from './route.js';

// JSON Schemas of the operator's views: the overview, workers and throughput history (routes-queues.ts,
// routes-stats.ts), part of SCHEMAS (schemas.ts).

export const OPERATOR_SCHEMAS: Record<string, JsonSchema> = {
  Overview: {
    type: 'object',
    required: ['generatedAt', 'maxAgeMs', 'cap', 'queues'],
    properties: {
      generatedAt: dateTime,
      maxAgeMs: { ...int, description: 'How long this reading is served from cache.' },
      cap: { ...int, description: 'Each figure reads at most this many index entries (+1), then stops.' },
      nextCursor: {
        ...nullable(str),
        description: 'With limit (and cursor): the next page, null on the last. Absent without them.',
      },
      queues: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            'name',
            'paused',
            'total',
            'claimable',
            'inFlight',
            'dead',
            'groups',
            'oldestClaimableAgeSeconds',
            'liveWorkers',
            'alerts',
          ],
          properties: {
            name: str,
            paused: { ...bool, description: 'Read at every request, never from the cache.' },
            createdAt: dateTime,
            total: { ...ref('Count'), description: 'Live jobs (dead letters not included).' },
            claimable: {
              ...ref('Count'),
              description:
                'Claimable now: ready ungrouped jobs, plus one per group nothing holds (its next job; a ' +
                'group runs one job at a time). At most the ready count of /stats.',
            },
            inFlight: { ...ref('Count'), description: 'Jobs holding an unexpired lease.' },
            dead: { ...ref('Count'), description: 'Rows in the dead-letter table.' },
            groups: { ...ref('Count'), description: 'Group keys with live jobs.' },
            oldestClaimableAgeSeconds: {
              ...nullable({ type: 'number' }),
              description:
                "How long the longest-waiting claimable work has been claimable (a job's run_at, a group's " +
                'ready_at); null when nothing is.',
            },
            liveWorkers: {
              ...int,
              description: 'Workers serving the queue with a heartbeat in the last 15 s.',
            },
            alerts: {
              type: 'array',
              description:
                'no-live-worker: claimable work has waited 60 s or more and no live worker serves the queue.',
              items: {
                type: 'object',
                required: ['code', 'text'],
                properties: { code: { enum: ['no-live-worker'] }, text: str },
              },
            },
          },
        },
      },
    },
  },
  Worker: {
    type: 'object',
    properties: {
      id: str,
      queues: { type: 'array', items: str },
      hostname: str,
      pid: int,
      startedAt: dateTime,
      lastHeartbeat: dateTime,
      info: {
        description: 'What the worker ran at its last heartbeat (null: a worker of an older version).',
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            properties: {
              concurrency: { ...int, description: 'Handlers it runs at once, over all its queues.' },
              running: { ...int, description: 'Jobs running now.' },
              prefetched: {
                ...int,
                description: 'Jobs claimed, waiting in the worker for a slot (not started).',
              },
              queues: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { name: str, concurrency: int, prefetch: int, running: int },
                },
              },
              jobs: {
                type: 'array',
                description: 'The running jobs, at most 50.',
                items: {
                  type: 'object',
                  properties: {
                    queue: str,
                    id,
                    attempt: int,
                    claimedAt: { oneOf: [dateTime, { type: 'null' }] },
                  },
                },
              },
            },
          },
        ],
      },
    },
  },
  StatsHistory: {
    type: 'object',
    properties: {
      queue: { oneOf: [str, { type: 'null' }], description: 'Null: every queue, summed.' },
      minutes: int,
      bucketMinutes: int,
      waitBoundsMs: { type: 'array', items: int, description: "The wait histogram's bounds (ms)." },
      buckets: {
        type: 'array',
        description: 'Oldest first; a bucket in which no worker finished a job is absent.',
        items: {
          type: 'object',
          properties: {
            at: dateTime,
            completed: int,
            failed: { ...int, description: 'Failed attempts (retried or dead-lettered).' },
            dead: int,
            completedPerSecond: { type: 'number' },
            failedPerSecond: { type: 'number' },
            waitP50Ms: { oneOf: [int, { type: 'null' }], description: 'At most this (a histogram bound).' },
            waitP95Ms: { oneOf: [int, { type: 'null' }] },
          },
        },
      },
    },
  },
};
