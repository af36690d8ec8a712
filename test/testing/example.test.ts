import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { databaseUrl } from '../support/db.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// examples/testing is what docs/testing.md points to: it must keep passing, on Node's own test runner
// (pg-arbiter/testing imports no test runner).
describe('examples/testing', () => {
  it('passes under node --test', async () => {
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-reporter=tap', 'examples/testing/signup.test.ts'],
        { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl() }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
            out: stdout + stderr,
          }),
      );
    });
    expect(result.out).toMatch(/# pass 4\b/);
    expect(result.out).toMatch(/# fail 0\b/);
    expect(result.code).toBe(0);
  });
});
