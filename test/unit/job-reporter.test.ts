import { describe, expect, it } from 'vitest';
import type { ProgressWrite } from '../../src/db/queries/job-progress.js';
import { ValidationError } from '../../src/errors.js';
import type { Job } from '../../src/index.js';
import { WorkerEventEmitter } from '../../src/worker/events.js';
import {
  JobReporter,
  MAX_LOG_LINE_BYTES,
  REPORT_INTERVAL_MS,
  cutLogLine,
} from '../../src/worker/progress.js';
import { FakeClock, settle } from '../worker/fake-clock.js';

const job = { id: '7', attempts: 2, queue: 'q' } as unknown as Job;

function reporter(accept: () => boolean = () => true) {
  const clock = new FakeClock();
  const writes: ProgressWrite[] = [];
  const events = new WorkerEventEmitter();
  const r = new JobReporter(job, {
    clock,
    events,
    queue: 'q',
    sink: async (_job, w) => {
      writes.push(w);
      return accept();
    },
  });
  return { r, clock, writes, events };
}

describe('JobReporter', () => {
  it('writes the first report at once, then at most one per interval, and hands back the last value on finish', async () => {
    const { r, clock, writes } = reporter();
    r.setProgress(1);
    await settle();
    expect(writes.map((w) => w.progress)).toEqual(['1']);
    for (let i = 2; i <= 50; i++) r.setProgress(i);
    r.log('halfway');
    r.setMeta({ a: 1 });
    r.setMeta({ b: 2 });
    await settle();
    expect(writes).toHaveLength(1);
    await clock.advance(REPORT_INTERVAL_MS);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatchObject({ id: '7', attempts: 2, progress: '50', meta: '{"a":1,"b":2}' });
    expect(JSON.parse(writes[1]!.logs!)).toMatchObject([{ attempt: 2, message: 'halfway' }]);
    r.setProgress(99);
    r.setProgress(100);
    await settle();
    expect(writes).toHaveLength(2); // inside the interval
    // The last value is not written by the reporter: the job's outcome carries it.
    expect(await r.finish()).toMatchObject({ id: '7', attempts: 2, progress: '100', meta: null, logs: null });
    expect(writes).toHaveLength(2);
    r.setProgress(5); // after the handler ended: dropped
    await clock.advance(10 * REPORT_INTERVAL_MS);
    expect(writes).toHaveLength(2);
    expect(await r.finish()).toBe(null);
  });

  it('takes back a write not yet sent and hands it back on finish, merged with what came after', async () => {
    const clock = new FakeClock();
    const queued: ProgressWrite[] = [];
    const taken: ProgressWrite[] = [];
    const r = new JobReporter(job, {
      clock,
      events: new WorkerEventEmitter(),
      queue: 'q',
      // A sink that holds writes until taken back (as the batcher does before its statement leaves).
      sink: (_job, w) => new Promise<boolean>((resolve) => queued.push(Object.assign(w, { resolve }))),
      withdraw: (_job, w) => {
        const i = queued.indexOf(w);
        if (i < 0) return false;
        queued.splice(i, 1);
        taken.push(w);
        (w as unknown as { resolve: (ok: boolean) => void }).resolve(true);
        return true;
      },
    });
    r.setProgress(1);
    r.setMeta({ a: 1 });
    r.log('one');
    await settle();
    expect(queued).toHaveLength(1); // the first report left at once
    r.setMeta({ b: 2 });
    r.log('two');
    const last = await r.finish();
    expect(taken).toHaveLength(1);
    expect(last).toMatchObject({ id: '7', attempts: 2, progress: '1', meta: '{"a":1,"b":2}' });
    expect(JSON.parse(last!.logs!).map((l: { message: string }) => l.message)).toEqual(['one', 'two']);
  });

  it('stops writing once a write is fenced off', async () => {
    const { r, clock, writes } = reporter(() => false);
    r.setProgress(1);
    await settle();
    r.setProgress(2);
    await clock.advance(5 * REPORT_INTERVAL_MS);
    expect(await r.finish()).toBe(null); // fenced off: nothing handed back either
    expect(writes).toHaveLength(1);
  });

  it('refuses bad input with a ValidationError and writes nothing', async () => {
    const { r, clock, writes } = reporter();
    expect(() => r.setProgress(Number.NaN)).toThrow(ValidationError);
    expect(() => r.setProgress('50%')).toThrow(ValidationError);
    expect(() => r.setProgress({ big: 'x'.repeat(5000) })).toThrow(ValidationError);
    expect(() => r.setMeta([1])).toThrow(ValidationError);
    expect(() => r.setMeta({ n: 1n })).toThrow(ValidationError);
    expect(() => r.log(42)).toThrow(ValidationError);
    await clock.advance(5 * REPORT_INTERVAL_MS);
    expect(await r.finish()).toBe(null);
    expect(writes).toHaveLength(0);
  });

  it('emits job:progress and job:log events', () => {
    const { r, events } = reporter();
    const seen: unknown[] = [];
    events.on('job:progress', (e) => seen.push(['progress', e.progress, e.meta]));
    events.on('job:log', (e) => seen.push(['log', e.message]));
    r.setProgress(3);
    r.setMeta({ k: 'v' });
    r.log('hello');
    expect(seen).toEqual([
      ['progress', 3, undefined],
      ['progress', undefined, { k: 'v' }],
      ['log', 'hello'],
    ]);
  });

  it('cuts long log lines to the byte limit without splitting a character', () => {
    expect(cutLogLine('a\u0000b')).toBe('ab');
    const cut = cutLogLine('é'.repeat(5000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    expect(cut.endsWith('é…')).toBe(true);
  });
});
