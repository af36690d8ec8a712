import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../worker/helpers.js';
import { bundled, type BundleName } from './bundles.js';

export interface Child {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr together. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a bundled test program (see bundles.ts) with `env` added to this process's environment, and
 * waits until it prints `ready`. `preload` bundles are loaded first (`--import`). Every child started
 * here is killed by {@link killChildren}.
 */
export async function startChild(
  name: BundleName,
  env: Record<string, string>,
  preload: BundleName[] = [],
): Promise<Child> {
  const args = [...preload.flatMap((p) => ['--import', bundled(p)]), bundled(name)];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(() => out.includes('ready') || child.exitCode !== null, `${name} ready`, 60_000, 50);
  if (!out.includes('ready')) throw new Error(`${name} failed to start:\n${out}`);
  return { child, output: () => out, exited };
}

const started: ChildProcess[] = [];

/** SIGKILLs every child started by {@link startChild} that is still running (for afterAll). */
export function killChildren(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
