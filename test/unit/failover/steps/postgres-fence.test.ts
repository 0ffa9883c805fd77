import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPostgresFenceStep, type PostgresFenceConfig } from '../../../../src/failover/steps/postgres-fence.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { startPostgresPair, type PgPair } from '../../../support/postgres.ts';
import { freePort } from '../../../support/ports.ts';
import { captureLogger, cluster, stepContext } from '../../../support/step-context.ts';

function fenceConfig(over: Partial<PostgresFenceConfig> = {}): PostgresFenceConfig {
  return { type: 'postgres-fence', name: 'fence', timeout: 10_000, retries: 0, backoff: 0, onFailure: 'continue', terminateSessions: true, ...over };
}

function ctxFor(source: string, over: { forced?: boolean } = {}) {
  const log = captureLogger();
  return { log, ctx: stepContext({ logger: log.logger, source: cluster('east', source), target: cluster('west'), ...over }) };
}

async function session(url: string): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  const errors: Error[] = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();
  return { client, errors };
}

describe('fencing a reachable primary', () => {
  let pair: PgPair;
  before(async () => {
    pair = await startPostgresPair();
    await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await pair.primary.query('CREATE ROLE app LOGIN');
    await pair.primary.query('GRANT ALL ON orders TO app');
  });
  after(async () => { await pair?.stop(); });

  test('precheck: a superuser can fence; a plain user is refused with the missing privileges', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    assert.deepEqual(await step.precheck!(ctxFor(pair.primary.url).ctx), { detail: 'source database is a primary and can be fenced' });
    await assert.rejects(step.precheck!(ctxFor(pair.primary.url.replace('postgres@', 'app@')).ctx), (err) =>
      isSwitchyardError(err, 'SWY_FAILOVER_DB_PERMISSION') && /ALTER SYSTEM on default_transaction_read_only/.test(err.message) && /pg_signal_backend/.test(err.message));
  });

  test('makes new sessions read-only, terminates open ones, keeps the standby streaming', async () => {
    const open = await session(pair.primary.url.replace('postgres@', 'app@'));
    await open.client.query('INSERT INTO orders VALUES (1)');
    const step = createPostgresFenceStep(fenceConfig());
    const { ctx, log } = ctxFor(pair.primary.url);
    const out = await step.run(ctx);
    assert.match(out?.detail ?? '', /^read-only; 1 sessions terminated$/);

    await assert.rejects(open.client.query('INSERT INTO orders VALUES (2)'));
    assert.equal((open.errors[0] as any)?.code, '57P01', 'the open session was terminated by an administrator command');
    await open.client.end().catch(() => undefined);

    await assert.rejects(pair.primary.query('INSERT INTO orders VALUES (3)'), { code: '25006' });
    const [show] = await pair.primary.query('SHOW default_transaction_read_only');
    assert.equal(show.default_transaction_read_only, 'on');
    const rep = await pair.primary.query('SELECT state FROM pg_stat_replication');
    assert.deepEqual(rep, [{ state: 'streaming' }], 'the walsender must survive the fence');
    assert.ok(log.lines.some((l) => l.level === 30 && /fenced the database of east/.test(l.msg)));
  });

  test('running it again changes nothing and succeeds', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    const out = await step.run(ctxFor(pair.primary.url).ctx);
    assert.equal(out?.detail, 'read-only; 0 sessions terminated');
    await assert.rejects(pair.primary.query('INSERT INTO orders VALUES (4)'), { code: '25006' });
  });

  test('a standby is left alone', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    assert.deepEqual(await step.precheck!(ctxFor(pair.standby.url).ctx), { detail: 'source database is a standby; nothing to fence' });
    assert.deepEqual(await step.run(ctxFor(pair.standby.url).ctx), { detail: 'source database is a standby; not fenced' });
  });
});

describe('fencing an unreachable source', () => {
  test('is reported at warn and is not an error, in precheck and run', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const step = createPostgresFenceStep(fenceConfig({ timeout: 2000 }));
    const { ctx, log } = ctxFor(url);
    assert.deepEqual(await step.precheck!(ctx), { detail: 'source database unreachable; will not be fenced' });
    assert.deepEqual(await step.run(ctx), { detail: 'source database unreachable; not fenced' });
    const warns = log.lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 2);
    assert.match(warns[1].msg, /database of east is unreachable; not fenced/);
    assert.match(warns[1].err, /ECONNREFUSED/);
  });

  test('a source without a database configured has nothing to fence', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    const log = captureLogger();
    const out = await step.run(stepContext({ logger: log.logger }));
    assert.equal(out?.detail, 'cluster east has no database; nothing to fence');
  });
});
