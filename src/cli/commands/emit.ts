import type { Command } from 'commander';
import type { JobStep, JobWait } from '../../types.js';
import { action } from '../context.js';
import { usageError } from '../errors.js';
import type { Colors } from '../output.js';

const time = (d: Date): string =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

/** A stored result in one short line. */
function summary(value: unknown): string {
  if (value === undefined) return '-';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** A job's durable steps, one a line (name, kind, result summary, when), and what it waits for. */
export function stepsText(steps: readonly JobStep[], waiting: JobWait | null, c: Colors): string {
  const parts: string[] = [];
  if (steps.length > 0) {
    parts.push(c.dim(`steps (${steps.length}):`));
    for (const s of steps)
      parts.push(`  ${s.name} ${c.dim(s.kind)} ${summary(s.result)} ${c.dim(time(s.finishedAt))}`);
  }
  if (waiting !== null) {
    const until = waiting.until === null ? 'no timeout' : `until ${time(waiting.until)}`;
    parts.push(
      waiting.kind === 'event'
        ? `${c.dim('waits for event')} ${waiting.event} ${c.dim(until)}`
        : `${c.dim('sleeps')} ${c.dim(until)}`,
    );
  }
  return parts.join('\n');
}

/** `arbiter emit NAME --payload JSON`: releases the jobs waiting for an event (ctx.waitFor). */
export function registerEmit(program: Command): void {
  program
    .command('emit')
    .description('emit an event: every job waiting for it (ctx.waitFor) is released once; the event is kept')
    .argument('<name>', 'event name')
    .option('--payload <json>', 'the payload as JSON (default null)')
    .action(
      action(async (ctx, name: string, flags: { payload?: string }) => {
        let payload: unknown = null;
        if (flags.payload !== undefined) {
          try {
            payload = JSON.parse(flags.payload) as unknown;
          } catch (err) {
            throw usageError(`--payload: not valid JSON (${(err as Error).message})`);
          }
        }
        const arbiter = await ctx.arbiter();
        const { released } = await arbiter.emit(name, payload);
        ctx.emit(
          { name, released },
          () => `Emitted "${name}": released ${released} waiting job${released === 1 ? '' : 's'}.`,
        );
      }),
    );
}
