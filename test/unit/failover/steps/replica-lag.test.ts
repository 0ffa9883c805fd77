import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conninfoValue, standbyNameOf } from '../../../../src/failover/steps/postgres-position.ts';
import { assessLag, parseLsn, type LagBounds, type SourcePosition, type StandbyRow, type TargetObservation } from '../../../../src/failover/steps/replica-lag.ts';

test('parseLsn reads both halves as hex', () => {
  const table: [string, bigint][] = [
    ['0/0', 0n],
    ['0/3000000', 0x3000000n],
    ['16/B374D848', (0x16n << 32n) + 0xB374D848n],
    ['FFFFFFFF/FFFFFFFF', (1n << 64n) - 1n],
  ];
  for (const [lsn, want] of table) assert.equal(parseLsn(lsn), want, lsn);
  for (const bad of ['', '0', '0/', '/0', '0/0/0', 'G/0', '123456789/0']) assert.throws(() => parseLsn(bad), /not a WAL position/, bad);
});

const target: TargetObservation = { receiveLsn: '0/3000000', replayLsn: '0/3000000', paused: false, replayAgeSeconds: 500, systemIdentifier: '42', standbyName: 'west' };
const streaming: StandbyRow = { applicationName: 'west', clientAddr: '10.0.0.2', state: 'streaming', syncState: 'async', flushLsn: null, replayLsn: null };
const source = (lsn: string, over: Partial<SourcePosition> = {}): SourcePosition => ({ lsn, systemIdentifier: '42', timeline: 1, standbys: [streaming], ...over });
const none: LagBounds = { maxLagBytes: undefined, maxLagSeconds: undefined, maxRecordAgeMs: 30_000 };

test('assessLag: lag figures, the case that applied, and what blocks a promotion', () => {
  const table: { name: string; t?: Partial<TargetObservation>; live?: SourcePosition; record?: SourcePosition & { ageMs: number }; b?: Partial<LagBounds>; bytes: number | null; seconds: number | null; lagCase: string; blocked: [string, RegExp][] }[] = [
    { name: 'live, caught up', live: source('0/3000000'), bytes: 0, seconds: 0, lagCase: 'live', blocked: [] },
    { name: 'live: an old replay timestamp is not delay', live: source('0/3000000'), t: { replayAgeSeconds: 9999 }, b: { maxLagSeconds: 10 }, bytes: 0, seconds: 0, lagCase: 'live', blocked: [] },
    { name: 'live: received but not replayed is not lost', live: source('0/3000400'), t: { receiveLsn: '0/3000400' }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 500, lagCase: 'live', blocked: [] },
    { name: 'live, over bound', live: source('0/3100000'), b: { maxLagBytes: 2048 }, bytes: 0x100000, seconds: 500, lagCase: 'live', blocked: [['SWY_FAILOVER_REPLICA_LAG', /1048576 bytes behind the source's current WAL position 0\/3100000 .* over maxLagBytes 2048/]] },
    { name: 'live, bound equal to lag passes', live: source('0/3000800'), b: { maxLagBytes: 2048 }, bytes: 2048, seconds: 500, lagCase: 'live', blocked: [] },
    { name: 'live, source behind the target (already switched) counts as 0', live: source('0/1000000'), b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, lagCase: 'live', blocked: [] },
    { name: 'live, target not in pg_stat_replication', live: source('0/3000000', { standbys: [] }), bytes: 0, seconds: 0, lagCase: 'live', blocked: [['SWY_FAILOVER_NOT_REPLICATING', /no standby named "west"/]] },
    { name: 'live, target listed but catching up', live: source('0/3000000', { standbys: [{ ...streaming, state: 'catchup' }] }), bytes: 0, seconds: 0, lagCase: 'live', blocked: [['SWY_FAILOVER_NOT_REPLICATING', /as catchup, not streaming/]] },
    { name: 'live, another database', live: source('0/3000000', { systemIdentifier: '7' }), bytes: 0, seconds: 0, lagCase: 'live', blocked: [['SWY_FAILOVER_NOT_REPLICATING', /system identifier 42 is not the source's 7/]] },
    { name: 'record, fresh, within bound', record: { ...source('0/3000100'), ageMs: 2000 }, b: { maxLagBytes: 1024 }, bytes: 256, seconds: 500, lagCase: 'record', blocked: [] },
    { name: 'record, fresh, the cut standby far behind', t: { standbyName: null }, record: { ...source('0/5E00000', { standbys: [] }), ageMs: 2000 }, b: { maxLagBytes: 1_048_576 }, bytes: 0x2E00000, seconds: 500, lagCase: 'record', blocked: [['SWY_FAILOVER_REPLICA_LAG', /behind the source's last recorded WAL position 0\/5E00000/]] },
    { name: 'record, stale', record: { ...source('0/3000000'), ageMs: 30_001 }, b: { maxLagBytes: 1024 }, bytes: null, seconds: null, lagCase: 'unknown', blocked: [['SWY_FAILOVER_POSITION_UNKNOWN', /30\.0 s old \(maxRecordAge 30\.0 s\)/]] },
    { name: 'no record', b: { maxLagBytes: 1024 }, bytes: null, seconds: null, lagCase: 'unknown', blocked: [['SWY_FAILOVER_POSITION_UNKNOWN', /no WAL position of it was ever recorded/]] },
    { name: 'no record, unbounded', bytes: null, seconds: null, lagCase: 'unknown', blocked: [] },
    { name: 'record: sync standby is RPO 0 whatever the bytes', record: { ...source('0/9000000', { standbys: [{ ...streaming, syncState: 'sync' }] }), ageMs: 1000 }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, lagCase: 'sync', blocked: [] },
    { name: 'record: sync but stale is unknown', record: { ...source('0/9000000', { standbys: [{ ...streaming, syncState: 'sync' }] }), ageMs: 60_000 }, b: { maxLagBytes: 0 }, bytes: null, seconds: null, lagCase: 'unknown', blocked: [['SWY_FAILOVER_POSITION_UNKNOWN', /60\.0 s old/]] },
    { name: 'record: potential is not sync', record: { ...source('0/3000100', { standbys: [{ ...streaming, syncState: 'potential' }] }), ageMs: 1000 }, b: { maxLagBytes: 0 }, bytes: 256, seconds: 500, lagCase: 'record', blocked: [['SWY_FAILOVER_REPLICA_LAG', /256 bytes behind/]] },
    { name: 'live wins over a record', live: source('0/3000000'), record: { ...source('0/9000000'), ageMs: 1000 }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, lagCase: 'live', blocked: [] },
    { name: 'seconds over bound', live: source('0/3000010'), t: { receiveLsn: '0/3000010', replayAgeSeconds: 61 }, b: { maxLagSeconds: 60 }, bytes: 0, seconds: 61, lagCase: 'live', blocked: [['SWY_FAILOVER_REPLICA_LAG', /61\.0 s is over maxLagSeconds 60/]] },
    { name: 'seconds unknown with WAL pending and a bound', live: source('0/3000010'), t: { receiveLsn: '0/3000010', replayAgeSeconds: null }, b: { maxLagSeconds: 60 }, bytes: 0, seconds: null, lagCase: 'live', blocked: [['SWY_FAILOVER_REPLICA_LAG', /delay in seconds is unknown/]] },
    { name: 'paused with WAL pending blocks without bounds', live: source('0/3000100'), t: { paused: true, receiveLsn: '0/3000100' }, bytes: 0, seconds: 500, lagCase: 'live', blocked: [['SWY_FAILOVER_REPLICA_LAG', /paused with 256 bytes/]] },
    { name: 'paused and caught up does not block', live: source('0/3000000'), t: { paused: true }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, lagCase: 'live', blocked: [] },
    { name: 'problems sorted: not replicating first', live: source('0/3100000', { standbys: [] }), t: { paused: true, receiveLsn: '0/3000100' }, b: { maxLagBytes: 1 }, bytes: 0xFFF00, seconds: 500, lagCase: 'live',
      blocked: [['SWY_FAILOVER_NOT_REPLICATING', /no standby/], ['SWY_FAILOVER_REPLICA_LAG', /over maxLagBytes 1/], ['SWY_FAILOVER_REPLICA_LAG', /paused/]] },
  ];
  for (const row of table) {
    const a = assessLag({ target: { ...target, ...row.t }, live: row.live ?? null, record: row.record ?? null }, { ...none, ...row.b });
    assert.equal(a.lagBytes, row.bytes, `${row.name}: bytes`);
    assert.equal(a.lagSeconds, row.seconds, `${row.name}: seconds`);
    assert.equal(a.case, row.lagCase, `${row.name}: case`);
    assert.equal(a.problems.length, row.blocked.length, `${row.name}: problems ${JSON.stringify(a.problems)}`);
    row.blocked.forEach(([code, re], i) => { assert.equal(a.problems[i].code, code, row.name); assert.match(a.problems[i].message, re, row.name); });
  }
});

test('standbyNameOf: the application_name a standby streams under, connected or not', () => {
  const receiver = "user=postgres dbname=replication host=127.0.0.1 port=5432 application_name=standby fallback_application_name=walreceiver sslmode=prefer";
  assert.equal(standbyNameOf({ primary_conninfo: "host=db port=5432 application_name='east db'", receiver_conninfo: receiver }), 'east db');
  assert.equal(standbyNameOf({ primary_conninfo: null, receiver_conninfo: receiver }), 'standby');
  assert.equal(standbyNameOf({ primary_conninfo: 'host=db', receiver_conninfo: 'host=db fallback_application_name=walreceiver' }), 'walreceiver');
  assert.equal(standbyNameOf({ primary_conninfo: 'host=db', receiver_conninfo: null, cluster_name: 'east' }), 'east');
  assert.equal(standbyNameOf({}), 'walreceiver');
  assert.equal(conninfoValue("host=db fallback_application_name=x", 'application_name'), null, 'a longer key does not match');
  assert.equal(conninfoValue("password='it\\'s' application_name=a", 'password'), "it's");
});
