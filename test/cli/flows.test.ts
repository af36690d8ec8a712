import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('arbiter flows and jobs result', () => {
  it('shows a flow node by node, and a job result; exit 3 for what does not exist', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('cf');
    const flow = await t.arbiter.flow({
      name: 'order 7',
      nodes: {
        reserve: { queue: q, payload: { n: 1 } },
        charge: { queue: q, payload: { n: 2 }, dependsOn: ['reserve'] },
      },
    });
    const [job] = await q.claim();
    await q.ack(job!, { result: { reserved: true } });

    const [shown, machine, result, missingFlow, missingResult] = await Promise.all([
      cli('flows', 'show', flow.id),
      cli('--json', 'flows', 'show', flow.id),
      cli('jobs', 'result', 'cf', flow.jobs.reserve.id),
      cli('flows', 'show', '987654'),
      cli('jobs', 'result', 'cf', '987654'),
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^flow ${flow.id} "order 7": active`));
    expect(lines[1]).toMatch(/^ {2}reserve\s+succeeded\s+cf\/\d+ → \{"reserved":true\}/);
    expect(lines[2]).toMatch(/^ {2}charge\s+ready\s+cf\/\d+ after reserve/);
    expect(json<{ state: string }>(machine).state).toBe('active');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('succeeded (flow');
    expect(result.stdout).toContain('"reserved": true');
    expect(missingFlow.code).toBe(3);
    expect(missingResult.code).toBe(3);

    // enqueue --depends-on / --result, then a waiting node says what it waits for.
    const dep = await cli(
      '--json',
      'enqueue',
      'cf',
      '{"n":3}',
      '--depends-on',
      flow.jobs.charge.id,
      '--result',
    );
    expect(dep.code, dep.stderr).toBe(0);
    const waiting = json<{ job: { id: string; status: string } }>(dep).job;
    const why = await cli('jobs', 'why', 'cf', waiting.id);
    expect(why.stdout).toContain(`Waiting for dependencies charge`);
    const cancelled = await cli('flows', 'cancel', flow.id);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const list = json<{ id: string; state: string }[]>(await cli('--json', 'flows', 'list'));
    expect(list[0]).toMatchObject({ id: flow.id, state: 'cancelled' });
  });

  it('creates a flow from JSON; a cycle is exit 2 and writes nothing', async () => {
    await t.arbiter.createQueue('cf2');
    const made = await cli(
      '--json',
      'flows',
      'create',
      JSON.stringify({
        name: 'cli',
        nodes: { a: { queue: 'cf2', payload: 1 }, b: { queue: 'cf2', payload: 2, dependsOn: ['a'] } },
      }),
    );
    expect(made.code, made.stderr).toBe(0);
    const out = json<{ id: string; jobs: Record<string, string> }>(made);
    expect(Object.keys(out.jobs)).toEqual(['a', 'b']);
    expect((await t.arbiter.flows.get(out.id)).nodes.map((n) => n.state)).toEqual(['ready', 'waiting']);
    const cycle = await cli(
      'flows',
      'create',
      JSON.stringify({ nodes: { a: { queue: 'cf2', payload: 1, dependsOn: ['a'] } } }),
    );
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toContain('cycle');
    expect(await t.arbiter.queue('cf2').jobs.count()).toBe(2);
  });
});
