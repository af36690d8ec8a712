import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The CLI as one JavaScript file, built once per test run by the global setup. Starting it takes a
 * fraction of `node --import tsx src/cli/main.ts`, which compiles the CLI's modules on every start, and
 * the CLI tests start it hundreds of times. It sits two folders below the root, as src/cli/main.ts
 * does, so the paths it finds from its own location (package.json, sql/migrations) are the same.
 * Dependencies stay external: they load from node_modules, as they do for the source.
 */
export const CLI_BUNDLE = `${ROOT}.tmp/cli/main.mjs`;

export async function buildCliBundle(): Promise<void> {
  const partial = `${CLI_BUNDLE}.${process.pid}.tmp`;
  await build({
    entryPoints: [`${ROOT}src/cli/main.ts`],
    outfile: partial,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  // Whole or not at all: another run reading it meanwhile sees the previous bundle.
  renameSync(partial, CLI_BUNDLE);
}
