import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPostgresFenceStep, type PostgresFenceConfig } from '../../../../src/failover/steps/postgres-fence.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { startPostgresPair, type PgPair } from '../../../support/postgres.ts';
import { freePort } from '../../../support/ports.ts';
import { captureLogger, cluster, stepContext } from '../../../support/step-context.ts';

function fenceConfig(over: Partial<PostgresFenceConfig> = {}): PostgresFenceConfig {
  return { type: 'postgres-fence', name: 'fence', timeout: 10_000, retries: 0, backoff: 0, onFailure: 'continue', mode: 'nologin', terminateSessions: true, ...over };
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

/** Every way a client tries to write: each must fail while fenced (a login refused counts). */
async function writeAttempts(node: PgPair['primary'], user: string): Promise<Array<[string, string]>> {
  const attempts: Array<[string, string[]]> = [
    ['plain insert', ['INSERT INTO orders VALUES (100) ON CONFLICT DO NOTHING']],
    ['BEGIN READ WRITE', ['BEGIN READ WRITE', 'INSERT INTO orders VALUES (101) ON CONFLICT DO NOTHING', 'COMMIT']],
    ['SET default_transaction_read_only = off', ['SET default_transaction_read_only = off', 'INSERT INTO orders VALUES (102) ON CONFLICT DO NOTHING']],
  ];
  const out: Array<[string, string]> = [];
  for (const [name, statements] of attempts) {
    const client = new pg.Client({ connectionString: node.urlAs(user), connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    const result = await (async () => {
      await client.connect();
      for (const sql of statements) await client.query(sql);
      return 'WROTE';
    })().catch((err: any) => err.code ?? err.message);
    await client.end().catch(() => undefined);
    out.push([name, result]);
  }
  return out;
}

describe('fencing a reachable primary (nologin, the default)', () => {
  let pair: PgPair;
  before(async () => {
    pair = await startPostgresPair();
    await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await pair.primary.query('CREATE ROLE app LOGIN');
    await pair.primary.query('CREATE ROLE reporting LOGIN');
    await pair.primary.query('CREATE ROLE writers NOLOGIN');
    await pair.primary.query('CREATE ROLE replicator LOGIN REPLICATION');
    await pair.primary.query('GRANT ALL ON orders TO app');
  });
  after(async () => { await pair?.stop(); });

  test('precheck: a superuser can fence; a plain user is refused with the missing privileges', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    assert.deepEqual(await step.precheck!(ctxFor(pair.primary.url).ctx), { detail: 'source database is a primary and can be fenced' });
    await assert.rejects(step.precheck!(ctxFor(pair.primary.urlAs('app')).ctx), (err) =>
      isSwitchyardError(err, 'SWY_FAILOVER_DB_PERMISSION') && /superuser/.test(err.message));
    const readOnly = createPostgresFenceStep(fenceConfig({ mode: 'read-only' }));
    await assert.rejects(readOnly.precheck!(ctxFor(pair.primary.urlAs('app')).ctx), (err) =>
      isSwitchyardError(err, 'SWY_FAILOVER_DB_PERMISSION') && /ALTER SYSTEM on default_transaction_read_only/.test(err.message) && /pg_signal_backend/.test(err.message));
  });

  test('holds against BEGIN READ WRITE, SET ... = off, a role-level setting and a restart; the standby keeps streaming', async () => {
    assert.deepEqual((await writeAttempts(pair.primary, 'app')).map(([, r]) => r), ['WROTE', 'WROTE', 'WROTE'], 'before the fence the app writes');
    const open = await session(pair.primary.urlAs('app'));
    await open.client.query('INSERT INTO orders VALUES (1)');
    const step = createPostgresFenceStep(fenceConfig());
    const { ctx, log } = ctxFor(pair.primary.url);
    const out = await step.run(ctx);
    assert.equal(out?.sourceFence, 'fenced');
    assert.match(out?.detail ?? '', /^fenced \(nologin\): LOGIN taken from 2 role\(s\) \(app, reporting\); 1 sessions terminated$/);
    assert.equal(out?.facts?.fencedRoles, 'app,reporting', 'the superuser, the replication role and a NOLOGIN group role are left alone');

    await assert.rejects(open.client.query('INSERT INTO orders VALUES (2)'));
    assert.equal((open.errors[0] as any)?.code, '57P01', 'the open session was terminated by an administrator command');
    await open.client.end().catch(() => undefined);

    const refused = ['28000', '28000', '28000'];
    assert.deepEqual(await writeAttempts(pair.primary, 'app'), [['plain insert', refused[0]], ['BEGIN READ WRITE', refused[1]], ['SET default_transaction_read_only = off', refused[2]]]);
    // A role-level setting (what undoes default_transaction_read_only) changes nothing either.
    await pair.primary.query('ALTER ROLE app SET default_transaction_read_only = off');
    assert.deepEqual((await writeAttempts(pair.primary, 'app')).map(([, r]) => r), refused);
    const rep = await pair.primary.query('SELECT state FROM pg_stat_replication');
    assert.deepEqual(rep, [{ state: 'streaming' }], 'the walsender must survive the fence');
    await pair.primary.stop('fast');
    await pair.primary.start();
    assert.deepEqual((await writeAttempts(pair.primary, 'app')).map(([, r]) => r), refused, 'the fence survives a restart');
    const [count] = await pair.primary.query('SELECT count(*)::int AS n FROM orders WHERE id >= 2');
    assert.equal(count.n, 3, 'only the writes made before the fence are there (100, 101, 102)');
    assert.ok(log.lines.some((l) => l.level === 30 && /fenced the database of east/.test(l.msg)));
  });

  test('running it again changes nothing and succeeds', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    const out = await step.run(ctxFor(pair.primary.url).ctx);
    assert.equal(out?.detail, 'fenced (nologin): LOGIN taken from 2 role(s) (app, reporting); 0 sessions terminated');
    assert.equal(out?.facts?.newlyFenced, 0);
    await assert.rejects(pair.primary.queryAs('app', 'SELECT 1'), { code: '28000' });
  });

  test('a standby is left alone', async () => {
    const step = createPostgresFenceStep(fenceConfig());
    assert.deepEqual(await step.precheck!(ctxFor(pair.standby.url).ctx), { detail: 'source database is a standby; nothing to fence' });
    assert.deepEqual(await step.run(ctxFor(pair.standby.url).ctx), { detail: 'source database is a standby; not fenced', sourceFence: 'standby' });
  });
});

describe('fencing with mode: read-only (the weaker, documented mode)', () => {
  test('new sessions are read-only, but a client that insists can still write', async () => {
    const pair = await startPostgresPair({ synchronous: false });
    try {
      await pair.primary.query('CREATE TABLE orders (id int PRIMARY KEY)');
      await pair.primary.query('CREATE ROLE app LOGIN');
      await pair.primary.query('GRANT ALL ON orders TO app');
      const step = createPostgresFenceStep(fenceConfig({ mode: 'read-only' }));
      const out = await step.run(ctxFor(pair.primary.url).ctx);
      assert.match(out?.detail ?? '', /^fenced \(read-only\): new transactions default to read-only/);
      assert.deepEqual((await writeAttempts(pair.primary, 'app')).map(([, r]) => r), ['25006', 'WROTE', 'WROTE'], 'BEGIN READ WRITE and SET undo it: why nologin is the default');
    } finally {
      await pair.stop();
    }
  });
});

describe('fencing an unreachable source', () => {
  test('is reported at warn and is not an error, in precheck and run', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const step = createPostgresFenceStep(fenceConfig({ timeout: 2000 }));
    const { ctx, log } = ctxFor(url);
    assert.deepEqual(await step.precheck!(ctx), { detail: 'source database unreachable; will not be fenced' });
    assert.deepEqual(await step.run(ctx), { detail: 'source database unreachable; not fenced', sourceFence: 'unreachable' });
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
