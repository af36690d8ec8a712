import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as worker from '../../src/worker/index.js';

// The root entry point holds what an application needs to enqueue, inspect and operate jobs; the worker
// runtime has its own (`pg-arbiter/worker`). A value added to or removed from the root changes this list.
describe('entry points', () => {
  it('the root exports the Arbiter, Queue, JOB_STATUSES and the error classes, nothing of the worker', () => {
    expect(Object.keys(root).sort()).toEqual([
      'Arbiter',
      'ArbiterError',
      'AwaitedJobFailedError',
      'BatchTooLargeError',
      'CronScheduleExistsError',
      'CronScheduleNotFoundError',
      'DependencyNotFoundError',
      'DuplicateStepError',
      'FlowCycleError',
      'FlowNotFoundError',
      'InvalidIdentifierError',
      'JOB_STATUSES',
      'JobFailedError',
      'OutcomeUnknownError',
      'ParentNotFoundError',
      'PayloadError',
      'PayloadTooLargeError',
      'Queue',
      'QueueFullError',
      'QueueNotFoundError',
      'QueuesNotFoundError',
      'ResultNotFoundError',
      'ResultTimeoutError',
      'SchemaInUseError',
      'SchemaNotMigratedError',
      'SchemaTooNewError',
      'UnknownDependencyError',
      'ValidationError',
      'WaitTimeoutError',
    ]);
    for (const name of Object.keys(worker)) expect(Object.keys(root)).not.toContain(name);
  });

  it('the worker entry point starts workers and does not hand out database queries', () => {
    expect(Object.keys(worker)).toEqual(expect.arrayContaining(['createWorker', 'Worker', 'defineQueue']));
    expect(Object.keys(worker)).not.toContain('workerList');
  });
});
