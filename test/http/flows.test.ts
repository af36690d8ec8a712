import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { call, schemaChecksum, TOKEN } from './helpers.js';

const db = useTestDb();
let app: Hono;
afterEach(stopAll);

beforeAll(() => {
  app = createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
});

describe('flows over HTTP', () => {
  it('creates a flow, shows its nodes waiting, runs it, and reads node and job results', async () => {
    await db.arbiter.createQueue('hf_a');
    await db.arbiter.createQueue('hf_b');
    const created = await call(app, 'POST', '/flows', {
      name: 'diamond',
      nodes: {
        top: { queue: 'hf_a', payload: { n: 1 } },
        left: { queue: 'hf_b', payload: { n: 2 }, dependsOn: ['top'] },
        right: { queue: 'hf_b', payload: { n: 3 }, dependsOn: ['top'] },
        bottom: { queue: 'hf_a', payload: { n: 4 }, dependsOn: ['left', 'right'], options: { priority: 1 } },
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(Object.keys(created.body.jobs)).toEqual(['top', 'left', 'right', 'bottom']);
    const shown = await call(app, 'GET', `/flows/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.state).toBe('active');
    const bottom = shown.body.nodes.find((n: { name: string }) => n.name === 'bottom');
    expect(bottom).toMatchObject({ state: 'waiting', waitingFor: ['left', 'right'] });
    const why = await call(app, 'GET', `/queues/hf_a/jobs/${bottom.jobId}/why`);
    expect(why.body.reasons[0].text).toContain('Waiting for dependencies left, right');

    await startWorker(db.arbiter, {
      queues: {
        hf_a: { handler: async (job) => (job.payload as { n: number }).n * 10 },
        hf_b: { handler: async (job) => (job.payload as { n: number }).n * 10 },
      },
    });
    await waitFor(
      async () => (await call(app, 'GET', `/flows/${id}`)).body.state === 'succeeded',
      'flow done',
    );
    const done = await call(app, 'GET', `/flows/${id}`);
    expect(done.body.nodes.map((n: { result: unknown }) => n.result)).toEqual([10, 20, 30, 40]);
    const result = await call(app, 'GET', `/queues/hf_a/jobs/${bottom.jobId}/result`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ state: 'succeeded', value: 40, node: 'bottom', flowId: id });
    const list = await call(app, 'GET', '/flows?limit=5');
    expect(list.body[0]).toMatchObject({ id, name: 'diamond', state: 'succeeded', nodeCount: 4 });
  });

  it('enqueue with result and dependsOn; cancel a flow; typed errors write nothing', async () => {
    await db.arbiter.createQueue('hf_c');
    const first = await call(app, 'POST', '/queues/hf_c/jobs', {
      payload: {},
      result: true,
      delayMs: 3_600_000,
    });
    expect(first.status).toBe(201);
    const second = await call(app, 'POST', '/queues/hf_c/jobs', {
      payload: {},
      dependsOn: [first.body.job.id],
    });
    expect(second.status).toBe(201);
    expect(second.body.job.suspended).toBe(true);
    const pending = await call(app, 'GET', `/queues/hf_c/jobs/${first.body.job.id}/result`);
    expect(pending.body.state).toBe('unfinished');

    const flow = await call(app, 'POST', '/flows', {
      nodes: {
        a: { queue: 'hf_c', payload: 1, options: { delayMs: 3_600_000 } },
        b: { queue: 'hf_c', payload: 2, dependsOn: ['a'] },
      },
    });
    const cancelled = await call(app, 'POST', `/flows/${flow.body.id}/cancel`, {});
    expect(cancelled.body).toEqual({ changed: 2 });
    expect((await call(app, 'GET', `/flows/${flow.body.id}`)).body.state).toBe('cancelled');

    const before = await schemaChecksum(db.pool, db.schema);
    const cycle = await call(app, 'POST', '/flows', {
      nodes: {
        a: { queue: 'hf_c', payload: 1, dependsOn: ['b'] },
        b: { queue: 'hf_c', payload: 1, dependsOn: ['a'] },
      },
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.code).toBe('FLOW_CYCLE');
    const unknown = await call(app, 'POST', '/flows', {
      nodes: { a: { queue: 'hf_c', payload: 1, dependsOn: ['x'] } },
    });
    expect(unknown.body.error.code).toBe('UNKNOWN_DEPENDENCY');
    const missingQueue = await call(app, 'POST', '/flows', {
      nodes: { a: { queue: 'hf_nope', payload: 1 } },
    });
    expect(missingQueue.status).toBe(404);
    const missingDep = await call(app, 'POST', '/queues/hf_c/jobs', { payload: {}, dependsOn: ['987654'] });
    expect(missingDep.status).toBe(422);
    expect(missingDep.body.error.code).toBe('DEPENDENCY_NOT_FOUND');
    expect(await schemaChecksum(db.pool, db.schema)).toBe(before);
    expect((await call(app, 'GET', '/flows/999999')).body.error.code).toBe('FLOW_NOT_FOUND');
    expect((await call(app, 'GET', `/queues/hf_c/jobs/987654/result`)).body.error.code).toBe(
      'RESULT_NOT_FOUND',
    );
  });
});
