// Spawns and tracks the worker child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundleSync } from '../test/support/bundles.js';

const SOURCE = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
/**
 * The worker process as one JavaScript file, built once per run: a restarted worker starts as a deployed
 * one does, from JavaScript, instead of compiling the library under tsx on every restart (seconds on a
 * loaded machine, during which the run had one worker fewer than the plan says). Two folders below the
 * root, like src/cli, so the migrations are found at the same relative path.
 */
const SCRIPT = fileURLToPath(new URL('../.tmp/chaos/worker-process.mjs', import.meta.url));
let built = false;
function script(): string {
  if (!built) {
    bundleSync(SOURCE, SCRIPT);
    built = true;
  }
  return SCRIPT;
}

export interface WorkerProc {
  name: string;
  child: ChildProcess;
  ready: boolean;
  /** Set when we SIGKILL it (an expected death). */
  killedByUs: boolean;
  paused: boolean;
  stopping: boolean;
  exited: Promise<void>;
}

export class WorkerPool {
  readonly all: WorkerProc[] = [];
  /** Deaths we did not cause (the pass criterion wants 0). */
  readonly unexpectedExits: string[] = [];
  readonly errorLines: string[] = [];
  /** Called when a worker dies without our doing (the checker treats it as a fault too). */
  onUnexpectedExit: (name: string, at: number) => void = () => undefined;
  private seq = 0;

  constructor(
    private readonly url: string,
    private readonly concurrency: number,
    private readonly log: (line: string) => void,
    /** Every line a worker writes to stderr goes here too (the run's --log file). */
    private readonly sink: (line: string) => void = () => undefined,
  ) {}

  get live(): WorkerProc[] {
    return this.all.filter((w) => w.child.exitCode === null && w.child.signalCode === null && !w.killedByUs);
  }

  spawn(): WorkerProc {
    const name = `w${++this.seq}`;
    const child = spawn(process.execPath, [script()], {
      env: {
        ...process.env,
        DATABASE_URL: this.url,
        WORKER_NAME: name,
        CONCURRENCY: String(this.concurrency),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w: WorkerProc = {
      name,
      child,
      ready: false,
      killedByUs: false,
      paused: false,
      stopping: false,
      exited: new Promise<void>((resolve) => child.on('exit', () => resolve())),
    };
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) w.ready = true;
    });
    let tail = '';
    child.stderr!.on('data', (d: Buffer) => {
      tail = (tail + String(d)).slice(-4000);
      for (const line of String(d).split('\n')) {
        if (!line.trim()) continue;
        this.errorLines.push(line.slice(0, 300));
        this.sink(`${name}: ${line}`);
      }
    });
    child.on('exit', (code, signal) => {
      if (!w.killedByUs && !(w.stopping && code === 0)) {
        this.unexpectedExits.push(`${name} exited code=${code} signal=${signal}: ${tail.slice(-3000)}`);
        this.log(`worker ${name} died unexpectedly (code=${code} signal=${signal})`);
        this.onUnexpectedExit(name, Date.now());
      }
    });
    this.all.push(w);
    return w;
  }

  kill(w: WorkerProc): void {
    w.killedByUs = true;
    w.child.kill('SIGKILL');
  }

  /** Graceful stop of every live worker (SIGCONT first in case one is paused). */
  async stopAll(timeoutMs: number): Promise<void> {
    const live = this.live;
    for (const w of live) {
      w.stopping = true;
      if (w.paused) w.child.kill('SIGCONT');
      w.child.kill('SIGTERM');
    }
    const all = Promise.all(live.map((w) => w.exited));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs));
    if ((await Promise.race([all, timer])) === 'timeout') {
      for (const w of this.live) {
        this.log(`worker ${w.name} did not stop in ${timeoutMs} ms; killing it`);
        this.unexpectedExits.push(`${w.name} did not stop gracefully`);
        w.killedByUs = true;
        w.child.kill('SIGKILL');
      }
    }
  }

  killAllNow(): void {
    for (const w of this.all)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}
