import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { startPostgresPair, pauseReplay, resumeReplay, generateLag, type PgPair } from '../../support/postgres.ts';

let pair: PgPair;
before(async () => { pair = await startPostgresPair(); });
after(async () => { await pair?.stop(); });

async function waitForCount(node: PgPair['standby'], expected: number): Promise<number> {
  let count = -1;
  for (let i = 0; i < 100; i++) {
    const [row] = await node.query('SELECT count(*)::int AS n FROM harness_rows');
    count = row.n;
    if (count === expected) break;
    await delay(50);
  }
  return count;
}

test('the standby is in recovery and the primary is not', async () => {
  const [s] = await pair.standby.query('SELECT pg_is_in_recovery() AS r');
  const [p] = await pair.primary.query('SELECT pg_is_in_recovery() AS r');
  assert.equal(s.r, true);
  assert.equal(p.r, false);
  assert.match(pair.primary.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  assert.notEqual(pair.primary.port, pair.standby.port);
});

test('the standby is synchronous and rows written on the primary appear on it', async () => {
  const rows = await pair.primary.query("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'");
  assert.deepEqual(rows, [{ sync_state: 'sync' }]);
  await pair.primary.query('CREATE TABLE harness_rows (id int PRIMARY KEY)');
  await pair.primary.query('INSERT INTO harness_rows SELECT generate_series(1, 50)');
  assert.equal(await waitForCount(pair.standby, 50), 50);
});

test('writes on the standby are refused', async () => {
  await assert.rejects(pair.standby.query('INSERT INTO harness_rows VALUES (1000)'), { code: '25006' });
});

test('a paused replay leaves received WAL unreplayed and does not block synchronous_commit=on', async () => {
  await pauseReplay(pair.standby);
  const started = Date.now();
  const lsn = await generateLag(pair.primary, { rows: 2000, synchronousCommit: 'on' });
  assert.ok(Date.now() - started < 5000, 'a remote-flush commit must not wait for replay');
  const [s] = await pair.standby.query('SELECT pg_last_wal_receive_lsn()::text AS received, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending');
  assert.equal(s.received, lsn, 'with synchronous_commit=on the standby has flushed everything committed');
  assert.ok(s.pending > 100_000, `pending WAL ${s.pending} bytes`);
  await resumeReplay(pair.standby);
  let pending = s.pending;
  for (let i = 0; i < 100 && pending > 0; i++) {
    await delay(50);
    [{ pending }] = await pair.standby.query('SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending');
  }
  assert.equal(pending, 0);
});

test('a stopped node can be started again', async () => {
  await pair.standby.stop('fast');
  await assert.rejects(pair.standby.query('SELECT 1'), { code: 'ECONNREFUSED' });
  await pair.standby.start();
  const [row] = await pair.standby.query('SELECT pg_is_in_recovery() AS r');
  assert.equal(row.r, true);
});
