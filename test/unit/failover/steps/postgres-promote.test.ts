import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createPostgresPromoteStep, type PostgresPromoteConfig, type PostgresPromoteDeps } from '../../../../src/failover/steps/postgres-promote.ts';
import { createDatabaseObserver, type DatabaseObserver } from '../../../../src/failover/database-observer.ts';
import { createPositionFile } from '../../../../src/failover/positions.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import type { JournalEntry } from '../../../../src/routing/index.ts';
import type { StepContext } from '../../../../src/failover/step.ts';
import { startPostgresPair, pauseReplay, generateLag, disconnectStandby, type PgPair } from '../../../support/postgres.ts';
import { freePort } from '../../../support/ports.ts';
import { captureLogger, cluster, stepContext } from '../../../support/step-context.ts';

function promoteConfig(over: Partial<PostgresPromoteConfig> = {}): PostgresPromoteConfig {
  return { type: 'postgres-promote', name: 'promote', timeout: 20_000, retries: 0, backoff: 0, onFailure: 'hold', maxLagBytes: 1_048_576, maxLagSeconds: undefined, maxRecordAge: 30_000, ...over };
}

function ctxFor(pair: { source: string; target: string }, over: Partial<StepContext> = {}) {
  const log = captureLogger();
  return { log, ctx: stepContext({ logger: log.logger, source: cluster('east', pair.source), target: cluster('west', pair.target), ...over }) };
}

async function inRecovery(node: PgPair['standby']): Promise<boolean> {
  const [row] = await node.query('SELECT pg_is_in_recovery() AS r');
  return row.r;
}

const deadUrl = async () => `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
const precheckEntry = (facts: JournalEntry['facts']): JournalEntry => ({ step: 'promote', index: 0, phase: 'precheck', attempt: 0, at: new Date().toISOString(), facts });
const startedEntry = (attempt: number): JournalEntry => ({ step: 'promote', index: 0, phase: 'started', attempt, at: new Date().toISOString() });

/** A real observer recording `node` as cluster east's database, with its positions file in a temp folder. */
function observerOf(node: PgPair['primary'], now?: () => number): { observer: DatabaseObserver; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-positions-'));
  const { logger } = captureLogger();
  const observer = createDatabaseObserver({ clusters: [cluster('east', node.url)], intervalMs: 60_000, timeoutMs: 2000 }, {
    routing: { current: () => ({ generation: 1, epoch: 0, active: 'east', state: 'steady', retryTo: null, stale: false }), subscribe: () => () => {} },
    store: createPositionFile({ file: join(dir, 'state.positions.json') }), logger, registry: new Registry(), now,
  });
  return { observer, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('promoting a caught-up standby', () => {
  let pair: PgPair;
  before(async () => { pair = await startPostgresPair(); });
  after(async () => { await pair?.stop(); });

  test('precheck records identity and timeline; run promotes; a re-run counts only our own promotion', async () => {
    await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await pair.primary.query('INSERT INTO orders SELECT generate_series(1, 500)');
    const step = createPostgresPromoteStep(promoteConfig({ maxLagSeconds: 30 }));
    const { ctx, log } = ctxFor({ source: pair.primary.url, target: pair.standby.url });

    const pre = await step.precheck!(ctx);
    assert.match(pre?.detail ?? '', /standby in recovery on timeline 1; lag 0 bytes behind the source's current WAL position/);
    const [sys] = await pair.standby.query('SELECT system_identifier::text AS id FROM pg_control_system()');
    assert.equal(pre?.facts?.systemIdentifier, sys.id);
    assert.equal(pre?.facts?.timeline, 1);
    assert.equal(pre?.facts?.lagCase, 'live');
    assert.equal(await inRecovery(pair.standby), true, 'precheck must not promote');

    const journal = [precheckEntry(pre!.facts)];
    const out = await step.run({ ...ctx, journal });
    assert.match(out?.detail ?? '', /^promoted \(timeline 1 → 2\)/);
    assert.equal(await inRecovery(pair.standby), false);
    const [row] = await pair.standby.query('SELECT count(*)::int AS n FROM orders');
    assert.equal(row.n, 500);
    await pair.standby.query('INSERT INTO orders VALUES (501)');
    assert.ok(log.lines.some((l) => l.level === 30 && /promoted the database of west/.test(l.msg)));

    // Resume after a crash: an earlier attempt started, the timeline moved past the recorded one.
    const again = await step.run({ ...ctx, attempt: 2, journal: [...journal, startedEntry(1)] });
    assert.match(again?.detail ?? '', /already promoted by this transition \(timeline 1 → 2\)/);

    // No earlier attempt: someone else's "not in recovery" is not ours.
    await assert.rejects(step.run({ ...ctx, journal }), (err) => isSwitchyardError(err, 'SWY_FAILOVER_PROMOTION_UNVERIFIED') && /had not started a promotion/.test(err.message));
    // An earlier attempt, but the timeline recorded at precheck is the current one: not our promotion either.
    await assert.rejects(step.run({ ...ctx, attempt: 2, journal: [precheckEntry({ ...pre!.facts, timeline: 2 }), startedEntry(1)] }),
      (err) => isSwitchyardError(err, 'SWY_FAILOVER_PROMOTION_UNVERIFIED') && /timeline 2 is not past/.test(err.message));
    // A new move's precheck refuses a target that is a primary, and says what to do.
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_TARGET_NOT_STANDBY')
      && /rebuild it as a replica of the current primary first/.test(err.message) && /docs\/runbook\.md#rebuild-then-failback/.test(err.message));
  });
});

describe('a lagging standby', () => {
  let pair: PgPair;
  let committed = 0;
  before(async () => {
    pair = await startPostgresPair();
    await pair.primary.query('CREATE ROLE app LOGIN');
    await pair.primary.query('CREATE TABLE orders (id serial PRIMARY KEY, note text)');
    await pair.primary.query("INSERT INTO orders (note) SELECT 'before' FROM generate_series(1, 100)");
    committed = 100;
  });
  after(async () => { await pair?.stop(); });

  test('a user without EXECUTE on pg_promote is refused in precheck', async () => {
    const step = createPostgresPromoteStep(promoteConfig());
    const { ctx } = ctxFor({ source: pair.primary.url, target: pair.standby.urlAs('app') });
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_DB_PERMISSION'));
  });

  test('replay paused with WAL pending blocks precheck and run; the figures are in the error', async () => {
    await pauseReplay(pair.standby);
    await generateLag(pair.primary, { rows: 2000 });
    await pair.primary.query("INSERT INTO orders (note) SELECT 'during pause' FROM generate_series(1, 50)");
    committed += 50;
    const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 4096 }));
    const { ctx } = ctxFor({ source: pair.primary.url, target: pair.standby.url });
    let caught: unknown;
    await assert.rejects(step.precheck!(ctx), (err) => { caught = err; return isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG'); });
    const details = (caught as { details: Record<string, any> }).details;
    assert.equal(details.lagCase, 'live');
    assert.equal(details.paused, true);
    assert.match((caught as Error).message, /replay is paused with \d{6,} bytes of WAL not replayed/);

    await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG'));
    assert.equal(await inRecovery(pair.standby), true, 'a blocked run must not promote');
  });

  test('the source unreachable and no record of its position: the lag is unknown and it holds', async () => {
    const step = createPostgresPromoteStep(promoteConfig());
    const { ctx } = ctxFor({ source: await deadUrl(), target: pair.standby.url });
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_POSITION_UNKNOWN') && /no WAL position of it was ever recorded/.test(err.message));
  });

  test('forced: precheck logs and passes, run resumes replay and promotes with every row', async () => {
    const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 4096 }));
    const { ctx, log } = ctxFor({ source: pair.primary.url, target: pair.standby.url }, { forced: true });
    await step.precheck!(ctx);
    assert.ok(log.lines.some((l) => l.level === 40 && /forced past the promotion checks on west/.test(l.msg)), 'forced precheck warns');
    await step.run(ctx);
    assert.ok(log.lines.some((l) => l.level === 40 && /resuming the paused replay/.test(l.msg)));
    assert.equal(await inRecovery(pair.standby), false);
    const [row] = await pair.standby.query('SELECT count(*)::int AS n FROM orders');
    assert.equal(row.n, committed);
    const [lag] = await pair.standby.query('SELECT count(*)::int AS n FROM switchyard_lag');
    assert.equal(lag.n, 2000);
  });
});

describe('judging against the last recorded position (the source does not answer)', () => {
  test('an async standby whose WAL receiver was cut holds on the recorded lag, though it reports itself caught up', async () => {
    const pair = await startPostgresPair({ synchronous: false });
    let clock = Date.now();
    const { observer, cleanup } = observerOf(pair.primary, () => clock);
    try {
      await disconnectStandby(pair.standby);
      await generateLag(pair.primary, { rows: 20_000 });
      const rec = await observer.observe();
      assert.ok(rec, 'the observer recorded the primary');
      assert.equal(rec.standbys.length, 0, 'the cut standby is not in pg_stat_replication');
      const [self] = await pair.standby.query('SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS same');
      assert.equal(self.same, true, 'received minus replayed is 0: the old standby-only measure would have promoted it');

      const deps: PostgresPromoteDeps = { positions: observer, now: () => clock };
      const source = await deadUrl();
      const step = createPostgresPromoteStep(promoteConfig(), deps);
      const { ctx } = ctxFor({ source, target: pair.standby.url });
      let caught: any;
      await assert.rejects(step.precheck!(ctx), (err) => { caught = err; return isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG'); });
      assert.equal(caught.details.lagCase, 'record');
      assert.ok(caught.details.lagBytes > 1_048_576, `lagBytes ${caught.details.lagBytes}`);
      assert.equal(caught.details.sourceLsn, rec.lsn);
      await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG'));
      assert.equal(await inRecovery(pair.standby), true);

      // The same record, past maxRecordAge: unknown, its own code.
      clock += 31_000;
      await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_POSITION_UNKNOWN') && /31\.0 s old/.test(err.message));
      // With the source answering, the cut standby is not streaming from it.
      const live = ctxFor({ source: pair.primary.url, target: pair.standby.url }).ctx;
      await assert.rejects(step.precheck!(live), (err) => isSwitchyardError(err, 'SWY_FAILOVER_NOT_REPLICATING') && /not streaming from the current primary/.test(err.message));
      // maxLagBytes: unbounded is the explicit opt-out.
      const unbounded = createPostgresPromoteStep(promoteConfig({ maxLagBytes: undefined }), deps);
      assert.match((await unbounded.precheck!(ctx))?.detail ?? '', /lag unknown .*maxLagBytes: unbounded/);
    } finally {
      cleanup();
      await pair.stop();
    }
  });

  test('a sync standby in the last fresh record is promoted with RPO 0 after the primary died', async () => {
    const pair = await startPostgresPair({ synchronous: true });
    const { observer, cleanup } = observerOf(pair.primary);
    try {
      await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
      await pair.primary.query('INSERT INTO orders SELECT generate_series(1, 300)');
      const rec = await observer.observe();
      assert.deepEqual(rec?.standbys.map((s) => [s.applicationName, s.state, s.syncState]), [['standby', 'streaming', 'sync']]);
      await pair.primary.stop('immediate');
      const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 0 }), { positions: observer });
      const { ctx } = ctxFor({ source: pair.primary.url, target: pair.standby.url });
      const pre = await step.precheck!(ctx);
      assert.equal(pre?.facts?.lagCase, 'sync');
      const out = await step.run({ ...ctx, journal: [precheckEntry(pre!.facts)] });
      assert.match(out?.detail ?? '', /promoted .*sync standby in the source's last record .*RPO 0/);
      const [row] = await pair.standby.query('SELECT count(*)::int AS n FROM orders');
      assert.equal(row.n, 300, 'every acknowledged commit is there');
    } finally {
      cleanup();
      await pair.stop();
    }
  });
});

describe('an unreachable or hanging target', () => {
  test('connection refused: precheck and run throw SWY_FAILOVER_DB_UNREACHABLE', async () => {
    const url = await deadUrl();
    const step = createPostgresPromoteStep(promoteConfig({ timeout: 2000 }));
    const { ctx } = ctxFor({ source: url, target: url });
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE') && /127\.0\.0\.1:\d+\/postgres unreachable/.test(err.message));
    await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE'));
  });

  test('forced precheck passes an unreachable target with a warning', async () => {
    const url = await deadUrl();
    const step = createPostgresPromoteStep(promoteConfig({ timeout: 2000 }));
    const { ctx, log } = ctxFor({ source: url, target: url }, { forced: true });
    const out = await step.precheck!(ctx);
    assert.match(out?.detail ?? '', /^forced: SWY_FAILOVER_DB_UNREACHABLE/);
    assert.ok(log.lines.some((l) => l.level === 40));
  });

  test('a server that accepts and never answers: abort ends the step at once with the signal reason', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const step = createPostgresPromoteStep(promoteConfig({ timeout: 60_000 }));
      const controller = new AbortController();
      const reason = new Error('step timeout');
      const { ctx } = ctxFor({ source: url, target: url }, { signal: controller.signal });
      setTimeout(() => controller.abort(reason), 200);
      const started = Date.now();
      await assert.rejects(step.run(ctx), (err) => err === reason);
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started}ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
