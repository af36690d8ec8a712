import { beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli } from './helpers.js';

const t = useTestDb();
const cli = (args: string[]) => runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

beforeAll(async () => {
  await t.arbiter.createQueue('calls');
});

describe('arbiter queue limits', () => {
  it('shows, sets and removes limits', async () => {
    const shown = await cli(['queue', 'limits', 'calls']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('Limits of queue "calls":');
    expect(shown.stdout).toMatch(/max in flight:\s+no limit/);
    const set = await cli(['--json', 'queue', 'limits', 'calls', '--max-in-flight', '50', '--rate', '500']);
    expect(set.code).toBe(0);
    expect(json(set)).toEqual({
      queue: 'calls',
      limits: { maxInFlight: 50, rate: { perSecond: 500, burst: 500, cost: 1 }, perKey: null },
    });
    const burst = await cli(['--json', 'queue', 'limits', 'calls', '--burst', '1000']);
    expect(json<{ limits: unknown }>(burst).limits).toEqual({
      maxInFlight: 50,
      rate: { perSecond: 500, burst: 1000, cost: 1 },
      perKey: null,
    });
    await cli(['queue', 'limits', 'calls', '--max-in-flight', 'none']);
    expect(await t.arbiter.getQueueLimits('calls')).toEqual({
      maxInFlight: null,
      rate: { perSecond: 500, burst: 1000, cost: 1 },
      perKey: null,
    });
  });

  it('names the flag of a bad value (exit 2) and a missing queue (exit 3), writing nothing', async () => {
    const before = await t.arbiter.getQueueLimits('calls');
    const zero = await cli(['queue', 'limits', 'calls', '--max-in-flight', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--max-in-flight');
    const neg = await cli(['queue', 'limits', 'calls', '--rate', '-1']);
    expect(neg.code).toBe(2);
    expect(neg.stderr).toContain('--rate');
    expect(await t.arbiter.getQueueLimits('calls')).toEqual(before);
    expect((await cli(['queue', 'limits', 'nope', '--max-in-flight', '3'])).code).toBe(3);
  });
});

describe('per-key limits from the command line', () => {
  it('sets per-key defaults, turns fair share on and off, and shows them', async () => {
    await t.arbiter.createQueue('tenants');
    const set = await cli([
      '--json',
      'queue',
      'limits',
      'tenants',
      '--key-max-in-flight',
      '2',
      '--key-rate',
      '10',
    ]);
    expect(set.code).toBe(0);
    expect(json<{ limits: unknown }>(set).limits).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: { maxInFlight: 2, rate: { perSecond: 10, burst: 10, cost: 1 } },
    });
    // --key-burst alone changes the per-key bucket in force.
    await cli(['queue', 'limits', 'tenants', '--key-burst', '40']);
    expect((await t.arbiter.getQueueLimits('tenants')).perKey).toEqual({
      maxInFlight: 2,
      rate: { perSecond: 10, burst: 40, cost: 1 },
    });
    const shown = await cli(['queue', 'limits', 'tenants']);
    expect(shown.stdout).toMatch(/per key:\s+on/);
    expect(shown.stdout).toMatch(/key max in flight:\s+2/);
    expect(shown.stdout).toMatch(/key rate:\s+10\/s, burst 40/);

    await cli(['queue', 'limits', 'tenants', '--per-key', 'off']);
    expect((await t.arbiter.getQueueLimits('tenants')).perKey).toBeNull();
    await cli(['queue', 'limits', 'tenants', '--per-key', 'on']);
    expect((await t.arbiter.getQueueLimits('tenants')).perKey).toEqual({ maxInFlight: null, rate: null });
    await cli(['queue', 'limits', 'tenants', '--key-max-in-flight', '1', '--key-rate', 'none']);
    expect((await t.arbiter.getQueueLimits('tenants')).perKey).toEqual({ maxInFlight: 1, rate: null });
  });

  it('enqueues with --limit-key, lists keys with their use, and sets a key override', async () => {
    for (const key of ['acme', 'acme', 'globex']) {
      const r = await cli(['enqueue', 'tenants', '{}', '--limit-key', key]);
      expect(r.code, r.stderr).toBe(0);
    }
    await t.arbiter.queue('tenants').enqueue({});
    // One job of each key in flight: acme is at its cap of 1.
    expect(await t.arbiter.queue('tenants').claim({ limit: 10 })).toHaveLength(3);

    const set = await cli([
      '--json',
      'queue',
      'key-limits',
      'tenants',
      'acme',
      '--max-in-flight',
      '3',
      '--weight',
      '4',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(json(set)).toEqual({
      queue: 'tenants',
      key: 'acme',
      limits: { maxInFlight: 3, rate: null, weight: 4 },
    });
    await cli(['queue', 'key-limits', 'tenants', 'globex', '--rate', '5', '--burst', '8']);
    expect(await t.arbiter.getKeyLimits('tenants', 'globex')).toEqual({
      maxInFlight: null,
      rate: { perSecond: 5, burst: 8, cost: 1 },
      weight: null,
    });
    const shown = await cli(['queue', 'key-limits', 'tenants', 'acme']);
    expect(shown.stdout).toContain('Limits of key "acme" of queue "tenants":');
    expect(shown.stdout).toMatch(/weight:\s+4/);
    expect(shown.stdout).toMatch(/rate:\s+default/);

    const keys = await cli(['queue', 'keys', 'tenants']);
    expect(keys.code, keys.stderr).toBe(0);
    const lines = keys.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/KEY\s+IN FLIGHT\s+READY\s+TOKENS\s+WEIGHT\s+CONFIGURED/);
    expect(lines.find((l) => l.startsWith('(no key)'))).toMatch(/1\/-\s+0/);
    expect(lines.find((l) => l.startsWith('acme'))).toMatch(/^acme\s+1\/3\s+1\s+-\s+4\s+yes$/);
    expect(lines.find((l) => l.startsWith('globex'))).toMatch(/^globex\s+1\/1\s+0\s+\S+\/8\s+1\s+yes$/);

    const page = await cli(['--json', 'queue', 'keys', 'tenants', '--limit', '2']);
    const p1 = json<{ items: { key: string }[]; nextAfter: string | null }>(page);
    expect(p1.items.map((k) => k.key)).toEqual(['', 'acme']);
    expect(p1.nextAfter).toBe('acme');
    const human = await cli(['queue', 'keys', 'tenants', '--limit', '2']);
    expect(human.stdout).toContain('(more: --after "acme")');
    const p2 = json<{ items: { key: string }[]; nextAfter: string | null }>(
      await cli(['--json', 'queue', 'keys', 'tenants', '--limit', '2', '--after', 'acme']),
    );
    expect(p2.items.map((k) => k.key)).toEqual(['globex']);
    expect(p2.nextAfter).toBeNull();

    await cli(['queue', 'key-limits', 'tenants', 'acme', '--max-in-flight', 'none', '--weight', 'none']);
    expect(await t.arbiter.getKeyLimits('tenants', 'acme')).toEqual({
      maxInFlight: null,
      rate: null,
      weight: null,
    });
  });

  it('names the flag of a bad value (exit 2) and a missing queue (exit 3), writing nothing', async () => {
    const limits = await t.arbiter.getQueueLimits('tenants');
    const key = await t.arbiter.getKeyLimits('tenants', 'globex');
    const cases: [string[], string][] = [
      [['queue', 'limits', 'tenants', '--key-max-in-flight', '0'], '--key-max-in-flight'],
      [['queue', 'limits', 'tenants', '--key-rate', '-1'], '--key-rate'],
      [['queue', 'limits', 'tenants', '--per-key', 'maybe'], '--per-key'],
      [['queue', 'limits', 'tenants', '--per-key', 'off', '--key-max-in-flight', '2'], '--per-key'],
      [['queue', 'key-limits', 'tenants', 'globex', '--weight', '0'], '--weight'],
      [['queue', 'key-limits', 'tenants', 'globex', '--weight', '2.5'], '--weight'],
      [['queue', 'key-limits', 'tenants', 'globex', '--max-in-flight', 'x'], '--max-in-flight'],
      [['queue', 'key-limits', 'tenants', 'acme', '--burst', '3'], '--rate'],
      [['queue', 'keys', 'tenants', '--limit', '0'], '--limit'],
      [['enqueue', 'tenants', '{}', '--limit-key', 'a', '--group', 'g'], '--limit-key'],
    ];
    for (const [args, flag] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(flag);
    }
    expect(await t.arbiter.getQueueLimits('tenants')).toEqual(limits);
    expect(await t.arbiter.getKeyLimits('tenants', 'globex')).toEqual(key);
    expect((await cli(['queue', 'keys', 'nope'])).code).toBe(3);
    expect((await cli(['queue', 'key-limits', 'nope', 'k'])).code).toBe(3);
    expect((await cli(['queue', 'key-limits', 'nope', 'k', '--weight', '2'])).code).toBe(3);
    expect((await cli(['queue', 'limits', 'nope', '--per-key', 'on'])).code).toBe(3);
  });
});
