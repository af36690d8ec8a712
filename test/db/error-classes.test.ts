import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { Arbiter } from '../../src/index.js';
import { createWorker } from '../../src/worker/index.js';
import { MAX_TREE_NODES } from '../../src/client/tree.js';
import { databaseUrl, uniqueName, useTestDb } from '../support/db.js';

// Every error class the package exports is what the library throws for its case: `instanceof` on an
// exported class is a contract. A class added to src/errors.ts without a case here fails this file.
const t = useTestDb();

type Case = () => Promise<unknown>;
const many = (n: number) => Array.from({ length: n }, (_, i) => ({ payload: { i } }));

function cases(): Record<string, Case[] | string> {
  const q = () => t.arbiter.queue('errs');
  return {
    // Bases: thrown only through their subclasses below, or for causes without a class of their own.
    ArbiterError: 'base of every class below',
    ValidationError: [
      () => q().enqueue({}, { priority: 'high' as never }),
      () => q().claim({ limit: 0 }),
      async () => new Arbiter({ executor: 42 as never }),
    ],
    InvalidIdentifierError: [
      async () => t.arbiter.queue('Not A Name'),
      async () => new Arbiter({ connectionString: databaseUrl(), schema: '1x' }),
    ],
    PayloadError: [() => q().enqueue({ f: () => 1 }), () => q().enqueue({ n: NaN })],
    PayloadTooLargeError: [
      async () => {
        const small = new Arbiter({ connectionString: databaseUrl(), schema: t.schema, maxPayloadBytes: 64 });
        try {
          await small.queue('errs').enqueue({ s: 'x'.repeat(100) });
        } finally {
          await small.close();
        }
      },
    ],
    QueueNotFoundError: [
      () => t.arbiter.queue('nosuch').enqueue({}),
      () => t.arbiter.queue('nosuch').claim(),
    ],
    ParentNotFoundError: [() => q().enqueue({}, { parentId: '987654321' })],
    CronScheduleNotFoundError: [
      () => t.arbiter.cron.set('no-such-schedule', { pattern: '0 * * * *' }),
      () => t.arbiter.cron.pause('no-such-schedule'),
    ],
    CronScheduleExistsError: [
      async () => {
        const s = { name: 'taken-schedule', queue: 'errs', pattern: '0 * * * *' };
        if (!(await t.arbiter.cron.get(s.name))) await t.arbiter.cron.add(s);
        return t.arbiter.cron.add(s);
      },
    ],
    BatchTooLargeError: [
      () => q().enqueueMany(many(10_001)),
      () => q().jobs.cancelMany(Array.from({ length: 10_001 }, (_, i) => i + 1)),
      () =>
        q().enqueueTree({
          payload: 0,
          children: Array.from({ length: MAX_TREE_NODES }, (_, i) => ({ payload: i })),
        }),
    ],
    SchemaTooNewError: [
      async () => {
        const schema = uniqueName('ahead');
        const a = new Arbiter({ connectionString: databaseUrl(), schema });
        try {
          await a.migrate();
          await t.pool.query(
            `INSERT INTO "${schema}"._migrations (version, name) VALUES (9999, 'from_the_future')`,
          );
          await a.migrate();
        } finally {
          await a.close();
          await t.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        }
      },
    ],
    OutcomeUnknownError: 'a connection cut during commit: test/db/enqueue-connection-cut.test.ts',
    EmbeddedPostgresError: 'an embedded server that cannot start here: test/embedded/embedded.test.ts',
    SchemaNotMigratedError: [
      async () => {
        const bare = new Arbiter({ connectionString: databaseUrl(), schema: uniqueName('never') });
        try {
          await bare.queue('errs').enqueue({});
        } finally {
          await bare.close();
        }
      },
    ],
    QueueFullError: [
      async () => {
        await q().enqueue({ fill: true });
        return q().enqueue({}, { maxQueued: { limit: 1 } });
      },
    ],
    QueuesNotFoundError: [
      () =>
        createWorker({
          arbiter: t.arbiter,
          handleSignals: false,
          queues: { errs: { handler: async () => {} }, nosuch: { handler: async () => {} } },
        }).start(),
    ],
    FlowCycleError: [
      () =>
        t.arbiter.flow({
          nodes: {
            a: { queue: 'errs', payload: {}, dependsOn: ['b'] },
            b: { queue: 'errs', payload: {}, dependsOn: ['a'] },
          },
        }),
    ],
    UnknownDependencyError: [
      () => t.arbiter.flow({ nodes: { a: { queue: 'errs', payload: {}, dependsOn: ['nope' as 'a'] } } }),
    ],
    DependencyNotFoundError: [() => q().enqueue({}, { dependsOn: ['987654321'] })],
    FlowNotFoundError: [() => t.arbiter.flows.get('987654321'), () => t.arbiter.flows.cancel('987654321')],
    ResultNotFoundError: [
      () => q().jobs.result('987654321'),
      async () => q().jobs.result((await q().enqueue({ plain: true }))!.id),
    ],
    ResultTimeoutError: [async () => (await q().enqueue({}, { result: true }))!.result({ timeoutMs: 1 })],
    JobFailedError: [
      async () => {
        const job = (await q().enqueue({}, { result: true }))!;
        await q().jobs.cancel(job.id);
        return job.result({ timeoutMs: 60_000 });
      },
    ],
    SchemaInUseError: [
      async () => {
        const schema = uniqueName('in_use');
        const a = new Arbiter({ connectionString: databaseUrl(), schema });
        try {
          await a.migrate();
          await t.pool.query(
            `INSERT INTO "${schema}"._workers (id, queues, hostname, pid) VALUES ('w-live', '{}', 'h', 1)`,
          );
          await a.uninstall();
        } finally {
          await a.close();
          await t.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        }
      },
    ],
    DuplicateStepError: 'thrown inside a handler: test/worker/steps.test.ts',
    WaitTimeoutError: 'thrown inside a handler: test/worker/steps.test.ts, test/worker/wait-for.test.ts',
    AwaitedJobFailedError:
      'thrown inside a handler by ctx.run: test/worker/wait-for.test.ts, test/worker/run-await.test.ts (cancelled)',
  };
}

describe('exported error classes', () => {
  it('each has a case, and each case throws exactly that class', async () => {
    await t.arbiter.createQueue('errs');
    const exported = (Object.entries(errors) as [string, unknown][]).filter(
      (e): e is [string, new (...args: never[]) => Error] =>
        typeof e[1] === 'function' && (e[1] as { prototype: unknown }).prototype instanceof Error,
    );
    const table = cases();
    expect(exported.map(([name]) => name).sort()).toEqual(Object.keys(table).sort());
    for (const [name, Class] of exported) {
      const list = table[name]!;
      if (typeof list === 'string') continue;
      for (const [i, run] of list.entries()) {
        const err = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `${name} case ${i}: threw nothing`).toBeDefined();
        expect((err as Error).constructor, `${name} case ${i}: ${String(err)}`).toBe(Class);
        expect(err).toBeInstanceOf(errors.ArbiterError);
      }
    }
  });
});
