import { readdirSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addFilterOptions } from '../../src/cli/filters.js';
import { JOB_STATUSES } from '../../src/types.js';
import { APP_JS, dashboardHtml } from '../../src/ui/dashboard.js';

// One word per job state across the library, the API, the CLI, the dashboard and the docs.
const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const LIVE = JOB_STATUSES.filter((s) => s !== 'dead');

describe('vocabulary', () => {
  it('the glossary defines exactly the states the library derives, in its order', () => {
    const section = read('docs/glossary.md').split('## Job states')[1]!.split('\n## ')[0]!;
    const defined = [...section.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((m) => m[1]);
    expect(defined).toEqual([...JOB_STATUSES]);
    expect(read('README.md')).toContain('[docs/glossary.md](docs/glossary.md)');
  });

  it('the dashboard and the CLI offer the same states as filters; dead letters have none', () => {
    const meta = /name="arbiter-config" content="([^"]*)"/.exec(dashboardHtml())![1]!;
    const config = JSON.parse(meta.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { statuses: string[] };
    expect(config.statuses).toEqual(LIVE);
    const jobs = addFilterOptions(new Command('list'), 'jobs').helpInformation().replace(/\s+/g, ' ');
    expect(jobs).toContain(`(${LIVE.join(', ')})`);
    const dlq = addFilterOptions(new Command('list'), 'dlq').helpInformation();
    expect(dlq).not.toContain('--status');
  });

  it('no surface names a state with a retired word', () => {
    const docs = readdirSync(new URL('docs/', ROOT)).map((f) => `docs/${f}`);
    for (const path of ['README.md', ...docs]) {
      expect(read(path), path).not.toMatch(/`(pending|running|retry-wait|in_flight)`/);
    }
    expect(APP_JS).not.toMatch(/'(pending|running|retry-wait)'/);
    expect(APP_JS).not.toMatch(/ready \(claimable/);
  });
});
