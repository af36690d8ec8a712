import type { Command } from 'commander';
import type { JobAttempt, JobReport } from '../../types.js';
import { action } from '../context.js';
import type { Colors } from '../output.js';
import { parseInteger } from '../parse.js';
import { jobDetail } from '../render.js';
import { jobNotFound } from '../errors.js';
import { stepsText } from './emit.js';

const time = (d: Date): string =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

function progressText(p: unknown): string {
  if (p === null || p === undefined) return '-';
  if (typeof p === 'number') return `${p}`;
  return JSON.stringify(p);
}

/** The log lines, one a line: time, attempt, message. */
export function logLines(report: JobReport, c: Colors, last?: number): string {
  const lines = last === undefined ? report.logs : report.logs.slice(-last);
  return lines.map((l) => `${c.dim(time(l.at))} ${c.dim(`#${l.attempt}`)} ${l.message}`).join('\n');
}

/** The report under a job's details: progress, metadata, the newest log lines. */
export function reportText(report: JobReport | null, c: Colors, lastLogs = 10): string {
  if (report === null) return c.dim('no progress reported');
  const parts = [
    `${c.dim('progress:')} ${progressText(report.progress)} ${c.dim(`(attempt ${report.attempt}, ${time(report.updatedAt)})`)}`,
  ];
  if (report.meta !== null) parts.push(`${c.dim('reported meta:')} ${JSON.stringify(report.meta)}`);
  if (report.logs.length > 0) {
    const shown = Math.min(lastLogs, report.logs.length);
    parts.push(c.dim(`logs (last ${shown} of ${report.logs.length}):`), logLines(report, c, lastLogs));
  }
  return parts.join('\n');
}

/** Failed attempts, one a line: attempt, when, how long, which worker, the error's first line. */
export function attemptsText(attempts: readonly JobAttempt[], c: Colors): string {
  if (attempts.length === 0) return c.dim('no failed attempts');
  const lines = attempts.map((a) => {
    const took = a.durationMs === null ? '' : ` ${a.durationMs} ms`;
    const first = a.error.split('\n')[0]!;
    return `  #${a.attempt} ${c.dim(time(a.failedAt) + took + ' ' + (a.workerId ?? '-'))} ${c.red(first)}`;
  });
  return [c.dim(`failed attempts (${attempts.length}):`), ...lines].join('\n');
}

/** `arbiter jobs show` and `arbiter jobs logs`: a job with what it reported, and its log lines. */
export function registerJobReports(jobs: Command): void {
  jobs
    .command('show')
    .description(
      'show one job with its failed attempts, progress, reported metadata and last log lines (also once it left the queue)',
    )
    .argument('<queue>', 'queue name')
    .argument('<id>', 'job id')
    .option('--logs <n>', 'log lines to show, 0 to 200', parseInteger, 10)
    .action(
      action(async (ctx, queueName: string, id: string, flags: { logs: number }) => {
        const queue = await ctx.queue(queueName);
        const [job, report, attempts, steps, waiting] = await Promise.all([
          queue.jobs.get(id),
          queue.jobs.report(id),
          queue.jobs.attempts(id),
          queue.jobs.steps(id),
          queue.jobs.waiting(id),
        ]);
        if (job === null && report === null && attempts.length === 0 && steps.length === 0)
          throw jobNotFound(queueName, id);
        ctx.emit({ job, report, attempts, steps, waiting }, () => {
          const head =
            job === null
              ? ctx.c.dim(`job ${id} has left the queue (finished or dead-lettered)`)
              : jobDetail(job, ctx.c);
          const durable = stepsText(steps, waiting, ctx.c);
          return `${head}\n${attemptsText(attempts, ctx.c)}\n${reportText(report, ctx.c, flags.logs)}${durable ? `\n${durable}` : ''}`;
        });
      }),
    );

  jobs
    .command('logs')
    .description("a job's log lines (ctx.log), oldest first; --follow prints new ones until the job leaves")
    .argument('<queue>', 'queue name')
    .argument('<id>', 'job id')
    .option('-f, --follow', 'keep printing new lines (looks every second) until the job has left the queue')
    .action(
      action(async (ctx, queueName: string, id: string, flags: { follow?: boolean }) => {
        const queue = await ctx.queue(queueName);
        let report = await queue.jobs.report(id);
        if (report === null && (await queue.jobs.get(id)) === null) throw jobNotFound(queueName, id);
        if (!flags.follow) {
          const logs = report?.logs ?? [];
          ctx.emit(logs, () => (report ? logLines(report, ctx.c) : ctx.c.dim('no log lines')));
          return;
        }
        const seen = new LineCursor();
        const print = (r: JobReport | null) => {
          for (const l of seen.fresh(r?.logs ?? [])) {
            process.stdout.write(
              (ctx.json ? JSON.stringify(l) : logLines({ ...r!, logs: [l] }, ctx.c)) + '\n',
            );
          }
        };
        for (;;) {
          print(report);
          if ((await queue.jobs.get(id)) === null) {
            // One last read: a job's final lines are written before it leaves the queue.
            print(await queue.jobs.report(id));
            return;
          }
          await new Promise((r) => setTimeout(r, 1000));
          report = await queue.jobs.report(id);
        }
      }),
    );
}

/**
 * Which log lines are new since the last read. The stored lines only grow at the end (and lose their
 * oldest past the cap), so the new ones follow the last line printed; when that line is gone (the cap
 * dropped it), the lines newer than it are.
 */
class LineCursor {
  private last: JobReport['logs'][number] | undefined;

  fresh(logs: JobReport['logs']): JobReport['logs'] {
    const last = this.last;
    let out = logs;
    if (last) {
      const at = logs.findIndex(
        (l) => +l.at === +last.at && l.attempt === last.attempt && l.message === last.message,
      );
      out = at >= 0 ? logs.slice(at + 1) : logs.filter((l) => +l.at > +last.at);
    }
    if (out.length > 0) this.last = out.at(-1);
    return out;
  }
}
