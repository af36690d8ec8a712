import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';

// The runnable order example of docs/workflows.md runs to the end with the documented output.
const t = useTestDb();
const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/order-workflow.ts', () => {
  it('reserves and charges each order once, releases one by its event and times the other out', async () => {
    const schema = `${t.schema}_ex`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'examples/order-workflow.ts'],
        {
          cwd: root,
          env: { ...process.env, DATABASE_URL: databaseUrl(), ARBITER_SCHEMA: schema },
          timeout: 120_000,
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    }).finally(() => t.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    expect(out).toContain('emitted shipped:A-1, released 1 job');
    expect(out).toContain('notify: order A-1 shipped with ups (1Z999)');
    expect(out).toContain('notify: order A-2 is late: we are on it');
    expect(out).toMatch(
      /order A-2 steps: reserve stock \(step\), charge \(step\), \$wait:1 \(timeout\), release stock/,
    );
    const effects = out.split('side effects, each once: ')[1]!.trim().split(', ').sort();
    expect(effects).toEqual(['charge A-1', 'charge A-2', 'release A-2', 'reserve A-1', 'reserve A-2']);
  });
});
