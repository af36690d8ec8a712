import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, buildSync, type BuildOptions } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The programs the tests start as child processes, each bundled once per run (by the global setup) into
 * one JavaScript file. Starting one takes a fraction of `node --import tsx file.ts`, which compiles every
 * module on each start: seconds on a loaded machine, where a test waiting for its child then timed out.
 * A child starts as a deployed program does, from JavaScript.
 */
const ENTRIES = {
  /** The CLI, started hundreds of times by test/cli. */
  cli: 'src/cli/main.ts',
  'worker-process': 'test/fixtures/worker-process.ts',
  'cancel-worker-process': 'test/fixtures/cancel-worker-process.ts',
  'skew-worker': 'test/fixtures/skew-worker.ts',
  'skew-clock': 'test/fixtures/skew-clock.ts',
} as const;

export type BundleName = keyof typeof ENTRIES;

/**
 * Where a bundle sits: two folders below the root, as src/cli/main.ts does, so the paths a program finds
 * from its own location (package.json, sql/migrations) are the same as the source's.
 */
export function bundled(name: BundleName): string {
  return `${ROOT}.tmp/bundles/${name}.mjs`;
}

function options(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies load from node_modules, as they do for the source.
    packages: 'external',
    logLevel: 'warning',
  };
}

/** Bundles `entry` into `outfile`, whole or not at all: a run reading it meanwhile sees the previous one. */
export async function bundle(entry: string, outfile: string): Promise<void> {
  const partial = `${outfile}.${process.pid}.tmp`;
  await build(options(entry, partial));
  renameSync(partial, outfile);
}

/** {@link bundle}, synchronously (for programs that build on first use). */
export function bundleSync(entry: string, outfile: string): void {
  const partial = `${outfile}.${process.pid}.tmp`;
  buildSync(options(entry, partial));
  renameSync(partial, outfile);
}

export async function buildBundles(): Promise<void> {
  await Promise.all(
    Object.entries(ENTRIES).map(([name, entry]) => bundle(`${ROOT}${entry}`, bundled(name as BundleName))),
  );
}
