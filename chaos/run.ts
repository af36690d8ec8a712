// Arbiter chaos suite (RELIABILITY.md R1): `npm run chaos` (100k jobs) or `npm run chaos -- --quick` (10k).
// Enqueues at a steady rate while 4 worker processes run under faults, drains, checks the recorded
// history and prints ONE summary line; exit code 0 only on PASS. Options: --quick, --jobs N, --rate R,
// --seed S, --database-url URL (an existing server: the PostgreSQL crash is skipped), --verbose.
import { appendFileSync } from 'node:fs';
import pg from 'pg';
import { Arbiter } from '../src/index.js';
import { check, maxReclaimS, pausedStale, pgResumeS } from './check.js';
import { CHAOS, CHAOS_DDL, QUEUES, QUEUE_LIST, SCHEMA, STEPS, rng, sleep } from './common.js';
import { buildPlan, runEnqueuer } from './enqueue.js';
import { FaultInjector } from './faults.js';
import { checkFlows, flowSummary, flowsPass, loadFlowHistory } from './flow-check.js';
import { FLOW_DDL, FLOW_QUEUE, FlowLoad, buildFlowPlan, flowsLeft } from './flows.js';
import {
  KEY_DDL,
  KEY_QUEUE,
  buildKeyPlan,
  checkKeys,
  keySummary,
  keysLeft,
  keysPass,
  loadKeyHistory,
  runKeyLoad,
  setKeyLimits,
} from './keys.js';
import { loadHistory } from './load.js';
import { checkWaits, loadWaitHistory, waitSummary, waitsPass } from './wait-check.js';
import { WAIT_DDL, WAIT_QUEUE, WaitLoad, buildWaitPlan, waitsLeft } from './waits.js';
import { embeddedDatabase, externalDatabase, type ChaosDatabase } from './pg-server.js';
import { WorkerPool } from './workers.js';

function parseArgs(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    jobs: Number(get('--jobs') ?? (quick ? 10_000 : 100_000)),
    rate: Number(get('--rate') ?? 170),
    seed: Number(get('--seed') ?? 20261123),
    concurrency: Number(get('--concurrency') ?? (quick ? 8 : 16)),
    databaseUrl: get('--database-url'),
    verbose: argv.includes('--verbose'),
    logFile: get('--log'),
  };
}

const args = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1);
const log = (line: string) => {
  const text = `[chaos +${elapsed()}s] ${line}`;
  if (args.verbose) process.stderr.write(text + '\n');
  if (args.logFile) appendFileSync(args.logFile, text + '\n');
};

async function setup(url: string): Promise<Arbiter> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${CHAOS} CASCADE; DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.query(CHAOS_DDL);
  await admin.query(FLOW_DDL);
  await admin.query(KEY_DDL);
  await admin.query(WAIT_DDL);
  await admin.end();
  const arbiter = new Arbiter({ connectionString: url, schema: SCHEMA, poolSize: 4 });
  await arbiter.migrate();
  for (const q of [...QUEUE_LIST, FLOW_QUEUE, WAIT_QUEUE, KEY_QUEUE]) await arbiter.createQueue(q);
  await setKeyLimits(arbiter);
  return arbiter;
}

/**
 * Durable steps of the history queue: no attempt ran a step's function after an earlier attempt recorded
 * its result (an effect row of a later attempt than the record's), and every job that finished (kept in
 * history) has all its steps. A run killed between a step's effect and its record repeats the effect:
 * counted, not a failure. So is a stale run's effect landing after another attempt recorded the step
 * (step_late_stale: a worker paused inside the step's function past its lease, whose record is then
 * fenced off): its function started before the record existed. Comparing times instead of attempts
 * counted those as re-runs.
 */
async function checkSteps(pool: pg.Pool) {
  const { rows } = await pool.query<{
    recorded: number;
    rerun_after_record: number;
    late_stale: number;
    missing: number;
    repeats_before_record: number;
  }>(
    `SELECT
       (SELECT count(*)::int FROM "${SCHEMA}"._steps WHERE queue = $1) AS recorded,
       (SELECT count(*)::int FROM ${CHAOS}.step_effects e JOIN "${SCHEMA}"._steps s
          ON s.queue = $1 AND s.job_id = e.job_id AND s.name = e.step WHERE e.attempt > s.attempt) AS rerun_after_record,
       (SELECT count(*)::int FROM ${CHAOS}.step_effects e JOIN "${SCHEMA}"._steps s
          ON s.queue = $1 AND s.job_id = e.job_id AND s.name = e.step
          WHERE e.attempt <= s.attempt AND e.at > s.finished_at) AS late_stale,
       (SELECT count(*)::int FROM "${SCHEMA}"."${QUEUES.hist}_history" h
          WHERE (SELECT count(*) FROM "${SCHEMA}"._steps s WHERE s.queue = $1 AND s.job_id = h.id) <> $2) AS missing,
       (SELECT count(*)::int - count(DISTINCT (job_id, step))::int FROM ${CHAOS}.step_effects) AS repeats_before_record`,
    [QUEUES.hist, STEPS.length],
  );
  return rows[0]!;
}

async function remaining(pool: pg.Pool): Promise<number> {
  const parts = QUEUE_LIST.map((q) => `SELECT count(*)::int AS n FROM "${SCHEMA}"."${q}"`).join(
    ' UNION ALL ',
  );
  const { rows } = await pool.query<{ n: number }>(`SELECT sum(n)::int AS n FROM (${parts}) s`);
  return rows[0]!.n;
}

let workers: WorkerPool | undefined;
let flowLoad: FlowLoad | undefined;
let waitLoad: WaitLoad | undefined;
// The suite must never leave worker processes behind, even if it crashes itself.
process.on('uncaughtException', (err) => {
  workers?.killAllNow();
  process.stderr.write(`chaos: uncaught ${err.stack ?? err.message}\n`);
  process.stdout.write('chaos FAIL (the suite itself crashed)\n');
  process.exit(2);
});

async function main(): Promise<number> {
  let db: ChaosDatabase | undefined;
  try {
    db = args.databaseUrl
      ? externalDatabase(args.databaseUrl)
      : await embeddedDatabase((l) => args.logFile && log(`pg: ${l.trim()}`));
    log(`database ready (${db.restartable ? 'embedded, restartable' : 'external: no PostgreSQL crash'})`);
    const arbiter = await setup(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    workers = new WorkerPool(db.url, args.concurrency, log, (l) => args.logFile && log(l));
    for (let i = 0; i < 4; i++) workers.spawn();
    const readyBy = Date.now() + 60_000;
    while (workers.live.some((w) => !w.ready)) {
      if (Date.now() > readyBy || workers.unexpectedExits.length > 0)
        throw new Error(`workers did not start: ${workers.unexpectedExits.join('; ')}`);
      await sleep(100);
    }
    log('4 workers ready');
    const plan = buildPlan(args.jobs, args.seed);
    const windowMs = (args.jobs / args.rate) * 1000;
    const faults = new FaultInjector(db, workers, log);
    const flowPlan = buildFlowPlan(args.jobs, args.seed + 2);
    flowLoad = new FlowLoad(db.url, log);
    // Waits are enqueued over the first 60% of the window: their events and timeouts (up to 8 s later)
    // then fall inside it, under faults.
    const waitPlan = buildWaitPlan(args.jobs, args.seed + 3);
    waitLoad = new WaitLoad(db.url, log);
    const keyPlan = buildKeyPlan(args.jobs, args.seed + 4);
    const [enq] = await Promise.all([
      runEnqueuer(db.url, arbiter, plan, args.rate, log),
      flowLoad.run(flowPlan, windowMs * 0.8),
      waitLoad.run(waitPlan, windowMs * 0.6),
      runKeyLoad(db.url, keyPlan, windowMs * 0.8, log),
      faults.run({ windowMs, random: rng(args.seed + 1), restartPg: db.restartable }),
    ]);
    log(`enqueued ${enq.jobs} jobs in ${enq.batches} batches (${enq.retries} retried); faults done`);
    const drainBy = Date.now() + (args.quick ? 120_000 : 600_000);
    let left = -1;
    while (Date.now() < drainBy) {
      left = await remaining(pool).catch(() => -1);
      if (left === 0) left = await flowsLeft(pool).catch(() => -1);
      if (left === 0) left = flowLoad.pending;
      if (left === 0) left = (await waitsLeft(pool).catch(() => -1)) || waitLoad.pending;
      if (left === 0) left = await keysLeft(pool).catch(() => -1);
      if (left === 0) break;
      await sleep(500);
    }
    log(`drain: ${left} jobs left`);
    await workers.stopAll(30_000);
    await flowLoad.close();
    await waitLoad.close();
    const history = await loadHistory(pool);
    const steps = await checkSteps(pool);
    const fig = check(history, faults.faults);
    const flowFig = checkFlows(await loadFlowHistory(pool, flowLoad.delivered), faults.faults);
    const keyFig = checkKeys(await loadKeyHistory(pool));
    const waitFig = checkWaits(await loadWaitHistory(pool));
    log(
      `wait load: ${waitLoad.stats.jobs} jobs, ${waitLoad.stats.emits} emits, ${waitLoad.stats.rollbacks} rolled back, ${waitLoad.stats.retries} retries`,
    );
    const via = [...flowLoad.delivered.values()].filter((d) => d.via === 'handle').length;
    log(
      `flow load: ${flowLoad.stats.flows} flows, ${flowLoad.stats.results} awaited (${via} delivered through the handle), ${flowLoad.stats.retries} enqueue retries, ${flowLoad.stats.waitErrors} wait errors`,
    );
    const planned = {
      flows: flowPlan.filter((u) => u.type === 'flow').length,
      results: flowPlan.filter((u) => u.type === 'result').length,
    };
    const reclaim = maxReclaimS(history, faults.faults);
    const resume = pgResumeS(history, faults.faults);
    const paused = pausedStale(history, faults.faults);
    await arbiter.close();
    await pool.end();
    const count = (k: string) => faults.faults.filter((f) => f.kind === k).length;
    const crashes = workers.unexpectedExits.length;
    const pass =
      fig.jobs === args.jobs &&
      fig.lost === 0 &&
      fig.multi_terminal === 0 &&
      fig.non_terminal_after_drain === 0 &&
      fig.unexpected === 0 &&
      fig.dup_accepted_acks === 0 &&
      fig.same_attempt_twice === 0 &&
      fig.unexplained_reexec === 0 &&
      fig.effect_dups === 0 &&
      fig.effect_missing === 0 &&
      fig.fifo_overlap === 0 &&
      fig.fifo_inversions === 0 &&
      fig.tree_early === 0 &&
      fig.tree_double === 0 &&
      fig.attempts_over === 0 &&
      steps.rerun_after_record === 0 &&
      steps.missing === 0 &&
      flowsPass(flowFig, planned) &&
      keysPass(keyFig) &&
      keyFig.jobs === keyPlan.length &&
      waitsPass(waitFig, waitPlan.length) &&
      paused.accepted === 0 &&
      crashes === 0 &&
      (reclaim === null || reclaim <= 10) &&
      (resume.s === null || resume.s <= 5);
    const f1 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
    if (!pass || args.verbose) {
      for (const d of [...fig.details, ...flowFig.details, ...keyFig.details, ...waitFig.details])
        process.stderr.write(`  ${d}\n`);
      for (const f of faults.faults)
        process.stderr.write(
          `  fault ${f.kind} at=${f.at} until=${f.until ?? ''} ${f.workers.join(',')} ${f.detail}\n`,
        );
      for (const e of workers.unexpectedExits) process.stderr.write(`  worker exit: ${e}\n`);
    }
    const line = [
      `chaos jobs=${fig.jobs}`,
      `lost=${fig.lost}`,
      `multi_terminal=${fig.multi_terminal}`,
      `non_terminal=${fig.non_terminal_after_drain}`,
      `unexpected=${fig.unexpected}`,
      `dup_accepted_acks=${fig.dup_accepted_acks}`,
      `same_attempt_twice=${fig.same_attempt_twice}`,
      `unexplained_reexec=${fig.unexplained_reexec}`,
      `reexec=${fig.reexec}/bound=${fig.bound}`,
      `effect_dups(tx)=${fig.effect_dups}`,
      `effect_missing(tx)=${fig.effect_missing}`,
      `fifo_overlap=${fig.fifo_overlap}`,
      `fifo_inversions=${fig.fifo_inversions}`,
      `tree_early=${fig.tree_early}`,
      `tree_double=${fig.tree_double}`,
      `attempts_over=${fig.attempts_over}`,
      `steps=${steps.recorded}`,
      `step_rerun_after_record=${steps.rerun_after_record}`,
      `step_late_stale=${steps.late_stale}`,
      `step_missing=${steps.missing}`,
      `step_repeats_before_record=${steps.repeats_before_record}`,
      `dlq_by_faults=${fig.dlq_by_faults}`,
      `unrecorded_acks=${fig.unrecorded_acks}`,
      ...flowSummary(flowFig),
      ...keySummary(keyFig),
      ...waitSummary(waitFig),
      `kills=${count('kill')}`,
      `pg_crashes=${db.restartable ? count('pg-crash') : 'n/a(external)'}`,
      `listen_kills=${count('listen-kill')}`,
      `ack_kills=${count('ack-kill')}`,
      `pauses=${count('pause')}`,
      `paused_stale=${paused.stale}/accepted=${paused.accepted}`,
      `worker_crashes=${crashes}`,
      `worker_error_lines=${workers.errorLines.length}`,
      `max_reclaim_s=${f1(reclaim)}`,
      `pg_resume_s=${f1(resume.s)}`,
      `wall_s=${elapsed()}`,
      pass ? 'PASS' : 'FAIL',
    ].join(' ');
    process.stdout.write(line + '\n');
    return pass ? 0 : 1;
  } finally {
    workers?.killAllNow();
    await db?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.stdout.write('chaos FAIL (the run itself failed)\n');
    process.exit(2);
  },
);
