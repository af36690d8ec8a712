import { WHY_CODES } from '../client/why.js';
import { RETENTION_KEYS } from '../core/retention.js';
import { JOB_STATUSES } from '../types.js';
import { bool, dateTime, id, idList, int, nullable, ref, str } from './schema-parts.js';
import { FLOW_SCHEMAS } from './schemas-flows.js';
import { LIMIT_SCHEMAS } from './schemas-limits.js';
import { OPERATOR_SCHEMAS } from './schemas-operator.js';
import { REPORT_SCHEMAS } from './schemas-reports.js';
import type { JsonSchema } from './route.js';

// JSON Schemas of the API's request and response bodies, referenced from the OpenAPI document.

const jobProps = {
  id,
  queue: str,
  payload: {},
  groupKey: nullable(str),
  priority: int,
  attempts: int,
  maxAttempts: int,
  lastError: nullable(str),
  dedupKey: nullable(str),
  idempotencyKey: nullable(str),
  limitKey: nullable(str),
  parentId: nullable(id),
  isRollup: bool,
  parentState: {},
  meta: nullable({ type: 'object' }),
  createdAt: dateTime,
};

export const SCHEMAS: Record<string, JsonSchema> = {
  ...FLOW_SCHEMAS,
  ...REPORT_SCHEMAS,
  ...OPERATOR_SCHEMAS,
  ...LIMIT_SCHEMAS,
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: str, message: str, field: str },
      },
    },
  },
  Job: {
    type: 'object',
    properties: {
      ...jobProps,
      status: { type: 'string', enum: JOB_STATUSES.filter((s) => s !== 'dead') },
      runAt: dateTime,
      leasedUntil: nullable(dateTime),
      suspended: bool,
      workerId: nullable(str),
      claimedAt: nullable(dateTime),
      updatedAt: dateTime,
      enqueueOutcome: {
        enum: ['created', 'replaced', 'absorbed', 'throttled', 'duplicate'],
        description: 'In the answer to an enqueue only: what it did (docs/enqueue.md).',
      },
      debounced: {
        type: 'object',
        description: 'A debounced job, as read by GET /queues/{queue}/jobs/{id}: enqueues it absorbed.',
        properties: { key: str, absorbed: int },
      },
    },
  },
  DeadJob: {
    type: 'object',
    properties: { ...jobProps, jobId: id, failedAt: dateTime, status: { const: 'dead' } },
  },
  JobPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('Job') }, nextCursor: nullable(str) },
  },
  RetryMatchingResult: {
    type: 'object',
    required: ['retried', 'missing', 'nextCursor'],
    properties: {
      retried: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            queue: str,
            id: { ...id, description: 'Dead-letter id.' },
            jobId: { ...id, description: 'The new job.' },
          },
        },
      },
      missing: { ...int, description: 'Dead letters gone before their retry.' },
      nextCursor: { ...nullable(str), description: 'Send it back to go on; null when done.' },
    },
  },
  DeadJobPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('DeadJob') }, nextCursor: nullable(str) },
  },
  Queue: {
    type: 'object',
    properties: { name: str, paused: bool, createdAt: dateTime, retention: ref('Retention') },
  },
  Retention: {
    type: 'object',
    description:
      'What the queue keeps of finished work (history rows, dead letters, throughput history); the ' +
      'maintenance leader deletes the rest in small batches. null: no limit.',
    properties: {
      historyMaxAgeMs: nullable(int),
      historyMaxCount: nullable(int),
      deadLetterMaxAgeMs: nullable(int),
      deadLetterMaxCount: nullable(int),
      statsMaxAgeMs: nullable(int),
    },
  },
  RetentionPatch: {
    type: 'object',
    description: "Per limit: a number, null (no limit) or 'default'. Limits left out stay as they are.",
    properties: Object.fromEntries(
      RETENTION_KEYS.map((k) => [k, { oneOf: [int, { type: 'null' }, { const: 'default' }] }]),
    ),
  },
  CronSchedule: {
    type: 'object',
    description:
      "A recurring schedule. source 'code': from a worker's cron option (overridden once changed at runtime); " +
      "'runtime': added through the API. payload null: a function of the tick, in code.",
    properties: {
      name: str,
      queue: str,
      pattern: str,
      tz: str,
      payload: {},
      overlap: { enum: ['skip', 'allow'] },
      missed: { enum: ['skip', 'once', 'catch-up'] },
      catchUpMax: int,
      paused: bool,
      source: { enum: ['code', 'runtime'] },
      overridden: bool,
      lastTick: nullable(dateTime),
      lastJobId: nullable(id),
      nextTick: nullable(dateTime),
      createdAt: dateTime,
      updatedAt: dateTime,
    },
  },
  CronScheduleInput: {
    type: 'object',
    required: ['name', 'queue', 'pattern'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      queue: str,
      pattern: { type: 'string', description: '5 fields, or 6 with seconds first.' },
      tz: { type: 'string', description: 'IANA time zone. Default UTC.' },
      payload: { description: 'JSON payload of each job. Default {}.' },
      overlap: { enum: ['skip', 'allow'] },
      missed: {
        enum: ['skip', 'once', 'catch-up'],
        description: 'Ticks missed while no worker ran: once (default), skip, catch-up (up to catchUpMax).',
      },
      catchUpMax: { type: 'integer', minimum: 1, maximum: 1000 },
      paused: bool,
    },
  },
  CronSchedulePatch: {
    type: 'object',
    additionalProperties: false,
    description:
      'Fields left out stay as they are. A new pattern or tz restarts the schedule from its next tick.',
    properties: {
      queue: str,
      pattern: str,
      tz: str,
      payload: {},
      overlap: { enum: ['skip', 'allow'] },
      missed: { enum: ['skip', 'once', 'catch-up'] },
      catchUpMax: { type: 'integer', minimum: 1, maximum: 1000 },
    },
  },
  QueueStats: {
    type: 'object',
    properties: {
      total: int,
      ready: int,
      inFlight: int,
      scheduled: int,
      retrying: int,
      suspended: int,
      dead: int,
      groups: int,
      oldestReadyAgeSeconds: nullable({ type: 'number' }),
    },
  },
  GroupJob: {
    type: 'object',
    properties: {
      id,
      status: { type: 'string', enum: JOB_STATUSES.filter((x) => x !== 'dead') },
      priority: int,
      attempts: int,
      maxAttempts: int,
      runAt: dateTime,
      leasedUntil: nullable(dateTime),
      workerId: nullable(str),
      lastError: nullable(str),
    },
  },
  Group: {
    type: 'object',
    required: ['groupKey', 'jobCount', 'state', 'blocked', 'reason'],
    properties: {
      groupKey: str,
      jobCount: int,
      state: {
        enum: ['in-flight', 'retrying', 'ready', 'idle'],
        description:
          'in-flight: a job holds a lease; retrying: a job failed and waits for its retry (FIFO survives ' +
          'failures); ready: a claim would take nextJobId now; idle: nothing can run now.',
      },
      blocked: bool,
      blockedUntil: nullable(dateTime),
      reason: str,
      head: { oneOf: [ref('GroupJob'), { type: 'null' }], description: 'First job in FIFO order.' },
      blocker: { oneOf: [ref('GroupJob'), { type: 'null' }], description: 'The job holding the group.' },
      nextJobId: nullable(id),
    },
  },
  GroupPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('Group') }, nextCursor: nullable(str) },
  },
  Count: {
    type: 'object',
    required: ['value', 'exact', 'kind'],
    description:
      'A count that may be approximate: exact; atLeast (counting stopped at the cap: value or more); ' +
      "estimate (the planner's statistics, past the cap).",
    properties: { value: int, exact: bool, kind: { enum: ['exact', 'atLeast', 'estimate'] } },
  },
  EnqueueRequest: {
    type: 'object',
    required: ['payload'],
    properties: {
      payload: { description: 'Any JSON value.' },
      groupKey: nullable(str),
      priority: int,
      delayMs: { type: 'number', minimum: 0 },
      runAt: dateTime,
      maxAttempts: int,
      dedup: nullable({
        type: 'object',
        required: ['key'],
        properties: { key: str, mode: { enum: ['ignore', 'replace'] } },
      }),
      idempotencyKey: nullable(str),
      limitKey: nullable(str),
      parentId: nullable(id),
      suspended: bool,
      meta: nullable({ type: 'object' }),
      unique: nullable({
        type: 'object',
        description:
          'The key stays taken while its job is live and for forMs after it finished (single enqueues only).',
        required: ['key', 'forMs'],
        properties: {
          key: str,
          forMs: { type: 'number', minimum: 1 },
          after: { enum: ['finished', 'succeeded', 'dead'] },
        },
        additionalProperties: false,
      }),
      debounce: nullable({
        type: 'object',
        description: 'One job, run windowMs after the last enqueue of the key, with the last payload.',
        required: ['key', 'windowMs'],
        properties: {
          key: str,
          windowMs: { type: 'number', minimum: 1, maximum: 86_400_000 },
          maxWaitMs: { type: 'number', minimum: 1, maximum: 86_400_000 },
        },
        additionalProperties: false,
      }),
      throttle: nullable({
        type: 'object',
        description: 'At most one job per key per window; with trailing, the last enqueue runs at its end.',
        required: ['key', 'windowMs'],
        properties: {
          key: str,
          windowMs: { type: 'number', minimum: 1, maximum: 86_400_000 },
          trailing: bool,
        },
        additionalProperties: false,
      }),
      result: {
        description:
          'Keep the result (true, or { retainMs }) to read it later from /queues/{queue}/jobs/{id}/result.',
        oneOf: [
          bool,
          { type: 'object', properties: { retainMs: { type: 'number', minimum: 1 } } },
          { type: 'null' },
        ],
      },
      dependsOn: nullable({
        type: 'array',
        description: 'Existing jobs this one waits for: ids of this queue, or { queue, id }.',
        items: {
          oneOf: [
            id,
            { type: 'integer', minimum: 1 },
            { type: 'object', required: ['queue', 'id'], properties: { queue: str, id } },
          ],
        },
        maxItems: 1000,
      }),
      onDependencyFailure: { enum: ['cancel', 'continue'] },
      maxQueued: nullable({
        type: 'object',
        description:
          'A cap on waiting jobs of the queue or of the group; at the cap: 429 QUEUE_FULL with Retry-After ' +
          '(reject, or wait past its timeout), or the oldest waiting job is dropped.',
        required: ['limit'],
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 100_000 },
          scope: { enum: ['queue', 'group'] },
          overflow: { enum: ['reject', 'dropOldest', 'wait'] },
          timeoutMs: { type: 'number', minimum: 1, maximum: 60_000 },
        },
        additionalProperties: false,
      }),
    },
    additionalProperties: false,
  },
  Changed: { type: 'object', required: ['changed'], properties: { changed: int } },
  Ids: { type: 'object', required: ['ids'], properties: { ids: idList }, additionalProperties: false },
  WhyReason: {
    type: 'object',
    required: ['code', 'text'],
    properties: {
      code: { enum: [...WHY_CODES] },
      text: { ...str, description: 'One sentence, times in UTC.' },
      jobId: { ...id, description: 'The job the reason is about, when not the one asked about.' },
      until: { ...dateTime, description: 'When the reason ends by itself (a lease, a delay, a backoff).' },
    },
  },
  JobExplanation: {
    type: 'object',
    required: ['job', 'deadLetter', 'ok', 'reasons', 'group', 'liveWorkers', 'checkedAt'],
    properties: {
      job: { oneOf: [ref('Job'), { type: 'null' }], description: 'Null when the job has left the queue.' },
      deadLetter: { oneOf: [ref('DeadJob'), { type: 'null' }], description: 'What it became, if dead.' },
      ok: { ...bool, description: 'In flight, or the next free worker claims it.' },
      reasons: { type: 'array', items: ref('WhyReason'), description: 'Every reason, in order.' },
      group: { oneOf: [ref('Group'), { type: 'null' }] },
      liveWorkers: { ...int, description: 'Workers serving the queue with a heartbeat in the last 15 s.' },
      checkedAt: dateTime,
    },
  },
  JobRef: {
    type: 'object',
    required: ['attempts'],
    properties: {
      attempts: { type: 'integer', minimum: 1, description: 'The attempt the job was claimed at.' },
    },
  },
};
