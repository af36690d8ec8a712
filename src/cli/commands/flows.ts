import type { Command } from 'commander';
import type { FlowInfo, FlowSummary } from '../../client/flows.js';
import type { JobResult } from '../../client/awaitable.js';
import { action } from '../context.js';
import type { Colors } from '../output.js';
import { parseInteger } from '../parse.js';
import { usageError } from '../errors.js';

const time = (d: Date | null): string =>
  d === null
    ? '-'
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');

function stateColor(state: string, c: Colors): string {
  if (state === 'succeeded') return c.green(state);
  if (state === 'failed' || state === 'cancelled') return c.red(state);
  if (state === 'waiting') return c.yellow(state);
  return state;
}

const clip = (v: unknown, n = 60): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
};

/** A flow as text: its state, then one line per node (state, queue/job, dependencies, outcome). */
export function flowText(flow: FlowInfo, c: Colors): string {
  const head = `flow ${flow.id}${flow.name === null ? '' : ` "${flow.name}"`}: ${stateColor(flow.state, c)} ${c.dim(
    `(created ${time(flow.createdAt)}${flow.finishedAt ? `, finished ${time(flow.finishedAt)}` : ''})`,
  )}`;
  const width = Math.max(...flow.nodes.map((n) => n.name.length), 4);
  const lines = flow.nodes.map((n) => {
    const deps = n.dependsOn.length === 0 ? '' : c.dim(` after ${n.dependsOn.join(', ')}`);
    let tail = '';
    if (n.waitingFor.length > 0) tail = ` waiting for ${n.waitingFor.join(', ')}`;
    else if (n.state === 'succeeded') tail = ` ${c.dim('→')} ${clip(n.result)}`;
    else if (n.error !== null) tail = ` ${c.red(clip(n.error, 80))}`;
    return `  ${n.name.padEnd(width)}  ${stateColor(n.state, c).padEnd(9)}  ${c.dim(`${n.queue}/${n.jobId}`)}${deps}${tail}`;
  });
  return [head, ...lines].join('\n');
}

function flowListText(flows: readonly FlowSummary[], c: Colors): string {
  if (flows.length === 0) return c.dim('no flows');
  return flows
    .map((f) => {
      const counts = Object.entries(f.counts)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      return `${f.id.padStart(6)}  ${stateColor(f.state, c).padEnd(9)}  ${f.name ?? c.dim('(no name)')}  ${c.dim(`${f.nodeCount} nodes: ${counts}`)}`;
    })
    .join('\n');
}

/** A tracked job's recorded outcome as text. */
export function resultText(r: JobResult, c: Colors): string {
  const where = r.flowId === null ? '' : c.dim(` (flow ${r.flowId}, node ${r.node})`);
  const head = `job ${r.jobId} of ${r.queue}: ${stateColor(r.state, c)}${where}`;
  if (r.state === 'succeeded') return `${head}\n${JSON.stringify(r.value, null, 2)}`;
  if (r.state === 'unfinished') return `${head}\n${c.dim('not finished yet')}`;
  return `${head}\n${c.red(r.error ?? r.state)}`;
}

/** `arbiter flows list|show|cancel`. */
export function registerFlows(program: Command): void {
  const flows = program
    .command('flows')
    .description('flows: jobs on any queues with dependencies between them');

  flows
    .command('create')
    .description(
      'enqueue a flow from its JSON definition { name?, nodes: { name: { queue, payload, dependsOn? } } }',
    )
    .argument('<definition>', 'the flow as JSON (docs/workflows.md)')
    .action(
      action(async (ctx, text: string) => {
        let definition: unknown;
        try {
          definition = JSON.parse(text) as unknown;
        } catch (err) {
          throw usageError(`definition: not valid JSON (${(err as Error).message})`);
        }
        const flow = await (await ctx.arbiter()).flow(definition as never);
        const jobs = Object.fromEntries(Object.entries(flow.jobs).map(([k, j]) => [k, j.id]));
        ctx.emit({ id: flow.id, name: flow.name, jobs }, () => {
          const list = Object.entries(jobs)
            .map(([k, id]) => `${k}=${id}`)
            .join(' ');
          return `${ctx.c.green('Enqueued')} flow ${flow.id} (${list}).`;
        });
      }),
    );

  flows
    .command('list')
    .description('the newest flows, with their nodes counted by state')
    .option('--limit <n>', 'at most this many, 1 to 1000', parseInteger, 20)
    .action(
      action(async (ctx, flags: { limit: number }) => {
        const list = await (await ctx.arbiter()).flows.list({ limit: flags.limit });
        ctx.emit(list, () => flowListText(list, ctx.c));
      }),
    );

  flows
    .command('show')
    .description(
      "a flow's state and each node's: waiting for which dependencies, running, its result or error",
    )
    .argument('<id>', 'flow id')
    .action(
      action(async (ctx, id: string) => {
        const flow = await (await ctx.arbiter()).flows.get(id);
        ctx.emit(flow, () => flowText(flow, ctx.c));
      }),
    );

  flows
    .command('cancel')
    .description('cancel every node of a flow that has not finished (running ones are told to stop)')
    .argument('<id>', 'flow id')
    .action(
      action(async (ctx, id: string) => {
        const changed = await (await ctx.arbiter()).flows.cancel(id);
        ctx.emit(
          { id, action: 'cancel', changed },
          () => `${ctx.c.green('cancelled')} flow ${id} (${changed} jobs removed).`,
        );
      }),
    );
}

/** `arbiter jobs result <queue> <id>`. */
export function registerJobResult(jobs: Command): void {
  jobs
    .command('result')
    .description(
      'the recorded result (or final error) of a job enqueued with --result, a flow node or a dependency',
    )
    .argument('<queue>', 'queue name')
    .argument('<id>', 'job id')
    .action(
      action(async (ctx, queueName: string, id: string) => {
        const r = await (await ctx.queue(queueName)).jobs.result(id);
        ctx.emit(r, () => resultText(r, ctx.c));
      }),
    );
}
