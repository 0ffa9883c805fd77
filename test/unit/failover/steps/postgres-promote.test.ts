import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { createPostgresPromoteStep, type PostgresPromoteConfig } from '../../../../src/failover/steps/postgres-promote.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { startPostgresPair, pauseReplay, generateLag, type PgPair } from '../../../support/postgres.ts';
import { freePort } from '../../../support/ports.ts';
import { captureLogger, cluster, stepContext } from '../../../support/step-context.ts';

function promoteConfig(over: Partial<PostgresPromoteConfig> = {}): PostgresPromoteConfig {
  return { type: 'postgres-promote', name: 'promote', timeout: 20_000, retries: 0, backoff: 0, onFailure: 'hold', maxLagBytes: undefined, maxLagSeconds: undefined, ...over };
}

function ctxFor(pair: { source: string; target: string }, over: { forced?: boolean; signal?: AbortSignal } = {}) {
  const log = captureLogger();
  return { log, ctx: stepContext({ logger: log.logger, source: cluster('east', pair.source), target: cluster('west', pair.target), ...over }) };
}

async function inRecovery(node: PgPair['standby']): Promise<boolean> {
  const [row] = await node.query('SELECT pg_is_in_recovery() AS r');
  return row.r;
}

describe('promoting a caught-up standby', () => {
  let pair: PgPair;
  before(async () => { pair = await startPostgresPair(); });
  after(async () => { await pair?.stop(); });

  test('promotes, keeps every committed row, and a second run is a no-op', async () => {
    await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await pair.primary.query('INSERT INTO orders SELECT generate_series(1, 500)');
    const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 16 * 1024 * 1024, maxLagSeconds: 30 }));
    const { ctx, log } = ctxFor({ source: pair.primary.url, target: pair.standby.url });

    const pre = await step.precheck!(ctx);
    assert.match(pre?.detail ?? '', /standby in recovery, lag 0 bytes \(source\)/);
    assert.equal(await inRecovery(pair.standby), true, 'precheck must not promote');

    const out = await step.run(ctx);
    assert.match(out?.detail ?? '', /^promoted/);
    assert.equal(await inRecovery(pair.standby), false);
    const [row] = await pair.standby.query('SELECT count(*)::int AS n FROM orders');
    assert.equal(row.n, 500);
    await pair.standby.query('INSERT INTO orders VALUES (501)');
    assert.ok(log.lines.some((l) => l.level === 30 && /promoted the database of west/.test(l.msg)));

    assert.deepEqual(await step.run(ctx), { detail: 'already promoted' });
    assert.deepEqual(await step.precheck!(ctx), { detail: 'already promoted' });
  });
});

describe('a lagging standby', () => {
  let pair: PgPair;
  let committed = 0;
  before(async () => {
    pair = await startPostgresPair();
    await pair.primary.query("CREATE ROLE app LOGIN");
    await pair.primary.query('CREATE TABLE orders (id serial PRIMARY KEY, note text)');
    await pair.primary.query("INSERT INTO orders (note) SELECT 'before' FROM generate_series(1, 100)");
    committed = 100;
  });
  after(async () => { await pair?.stop(); });

  test('a user without EXECUTE on pg_promote is refused in precheck', async () => {
    const step = createPostgresPromoteStep(promoteConfig());
    const { ctx } = ctxFor({ source: pair.primary.url, target: pair.standby.url.replace('postgres@', 'app@') });
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
    assert.equal(details.basis, 'source');
    assert.equal(details.paused, true);
    assert.ok(details.lagBytes > 100_000, `lagBytes ${details.lagBytes}`);
    assert.match((caught as Error).message, /over maxLagBytes 4096/);
    assert.match((caught as Error).message, /replay is paused/);

    await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG'));
    assert.equal(await inRecovery(pair.standby), true, 'a blocked run must not promote');
  });

  test('with the source unreachable, lag is measured on the standby (received minus replayed)', async () => {
    const [p] = await pair.primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
    let received = false;
    for (let i = 0; i < 100 && !received; i++) {
      const [r] = await pair.standby.query('SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS ok', [p.lsn]);
      received = r.ok;
      if (!received) await delay(50);
    }
    assert.ok(received, 'the standby did not receive the WAL in time');
    const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 4096 }));
    const { ctx } = ctxFor({ source: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, target: pair.standby.url });
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_REPLICA_LAG') && (err.details as any).basis === 'standby' && (err.details as any).lagBytes > 100_000);
  });

  test('forced: precheck logs and passes, run resumes replay and promotes with every row', async () => {
    const step = createPostgresPromoteStep(promoteConfig({ maxLagBytes: 4096 }));
    const { ctx, log } = ctxFor({ source: pair.primary.url, target: pair.standby.url }, { forced: true });
    await step.precheck!(ctx);
    assert.ok(log.lines.some((l) => l.level === 40 && /forced past replica lag check on west/.test(l.msg)), 'forced precheck warns');
    await step.run(ctx);
    assert.ok(log.lines.some((l) => l.level === 40 && /resuming the paused replay/.test(l.msg)));
    assert.equal(await inRecovery(pair.standby), false);
    const [row] = await pair.standby.query('SELECT count(*)::int AS n FROM orders');
    assert.equal(row.n, committed);
    const [lag] = await pair.standby.query('SELECT count(*)::int AS n FROM switchyard_lag');
    assert.equal(lag.n, 2000);
  });
});

describe('an unreachable or hanging target', () => {
  test('connection refused: precheck and run throw SWY_FAILOVER_DB_UNREACHABLE', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const step = createPostgresPromoteStep(promoteConfig({ timeout: 2000 }));
    const { ctx } = ctxFor({ source: url, target: url });
    await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE') && /127\.0\.0\.1:\d+\/postgres unreachable/.test(err.message));
    await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE'));
  });

  test('forced precheck passes an unreachable target with a warning', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
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
