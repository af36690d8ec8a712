import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundled } from '../support/bundles.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The argv that starts the CLI with `args`: the bundle, or the source under tsx when the command loads a
 * TypeScript module (a worker's handlers), which then shares the source's modules with the CLI.
 */
export function cliArgv(args: readonly string[]): string[] {
  return args.some((a) => /\.[mc]?ts$/.test(a))
    ? ['--import', 'tsx', 'src/cli/main.ts', ...args]
    : [bundled('cli'), ...args];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** DATABASE_URL for the child; null leaves it unset. */
  databaseUrl: string | null;
  schema?: string;
  input?: string;
  env?: Record<string, string>;
}

/** Runs the CLI as a real child process: the source, bundled once per run (see test/support/bundles.ts). */
export function runCli(args: readonly string[], o: CliRunOptions): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'DATABASE_URL' && k !== 'ARBITER_SCHEMA' && k !== 'NO_COLOR') env[k] = v;
  }
  if (o.databaseUrl !== null) env.DATABASE_URL = o.databaseUrl;
  Object.assign(env, o.env);
  const full = o.schema === undefined ? [...args] : ['--schema', o.schema, ...args];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      cliArgv(full),
      { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024, timeout: 150_000 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (o.input !== undefined) child.stdin?.end(o.input);
    else child.stdin?.end();
  });
}

/** Parses --json output, failing with the CLI's stderr when it is not JSON. */
export function json<T = unknown>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}
