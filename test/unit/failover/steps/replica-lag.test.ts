import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessLag, parseLsn, type LagObservation, type LagBounds } from '../../../../src/failover/steps/replica-lag.ts';

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

const base: LagObservation = { receiveLsn: '0/3000000', replayLsn: '0/3000000', sourceLsn: null, paused: false, replayAgeSeconds: 500 };
const none: LagBounds = { maxLagBytes: undefined, maxLagSeconds: undefined };

test('assessLag: lag figures and what blocks a promotion', () => {
  const table: { name: string; o: Partial<LagObservation>; b?: Partial<LagBounds>; bytes: number | null; seconds: number | null; basis: string; blocked: RegExp[] }[] = [
    { name: 'caught up, no bounds', o: {}, bytes: 0, seconds: 0, basis: 'standby', blocked: [] },
    { name: 'caught up: an old replay timestamp is not delay', o: { replayAgeSeconds: 9999 }, b: { maxLagSeconds: 10 }, bytes: 0, seconds: 0, basis: 'standby', blocked: [] },
    { name: 'received but not replayed, under bound', o: { receiveLsn: '0/3000400' }, b: { maxLagBytes: 2048 }, bytes: 1024, seconds: 500, basis: 'standby', blocked: [] },
    { name: 'received but not replayed, over bound', o: { receiveLsn: '0/3100000' }, b: { maxLagBytes: 2048 }, bytes: 0x100000, seconds: 500, basis: 'standby', blocked: [/1048576 bytes is over maxLagBytes 2048/] },
    { name: 'bound equal to lag passes', o: { receiveLsn: '0/3000800' }, b: { maxLagBytes: 2048 }, bytes: 2048, seconds: 500, basis: 'standby', blocked: [] },
    { name: 'source primary ahead of everything received', o: { sourceLsn: '1/0' }, b: { maxLagBytes: 2048 }, bytes: 0x100000000 - 0x3000000, seconds: 500, basis: 'source', blocked: [/over maxLagBytes/] },
    { name: 'source behind replay (already switched) counts as 0', o: { sourceLsn: '0/1000000' }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, basis: 'source', blocked: [] },
    { name: 'seconds over bound', o: { receiveLsn: '0/3000010', replayAgeSeconds: 61 }, b: { maxLagSeconds: 60 }, bytes: 16, seconds: 61, basis: 'standby', blocked: [/61\.0 s is over maxLagSeconds 60/] },
    { name: 'seconds unknown with WAL pending and a bound', o: { receiveLsn: '0/3000010', replayAgeSeconds: null }, b: { maxLagSeconds: 60 }, bytes: 16, seconds: null, basis: 'standby', blocked: [/delay in seconds is unknown/] },
    { name: 'not streaming, source unreachable, bound set', o: { receiveLsn: null }, b: { maxLagBytes: 100 }, bytes: null, seconds: null, basis: 'unknown', blocked: [/lag in bytes is unknown/] },
    { name: 'not streaming, source unreachable, no bound', o: { receiveLsn: null }, bytes: null, seconds: null, basis: 'unknown', blocked: [] },
    { name: 'paused with WAL pending blocks without bounds', o: { paused: true, receiveLsn: '0/3000100' }, bytes: 256, seconds: 500, basis: 'standby', blocked: [/paused with 256 bytes/] },
    { name: 'paused and caught up does not block', o: { paused: true }, b: { maxLagBytes: 0 }, bytes: 0, seconds: 0, basis: 'standby', blocked: [] },
    { name: 'paused, pending and over bound: both reported', o: { paused: true, receiveLsn: '0/3000100' }, b: { maxLagBytes: 1 }, bytes: 256, seconds: 500, basis: 'standby', blocked: [/paused/, /over maxLagBytes 1/] },
  ];
  for (const row of table) {
    const a = assessLag({ ...base, ...row.o }, { ...none, ...row.b });
    assert.equal(a.lagBytes, row.bytes, `${row.name}: bytes`);
    assert.equal(a.lagSeconds, row.seconds, `${row.name}: seconds`);
    assert.equal(a.basis, row.basis, `${row.name}: basis`);
    assert.equal(a.problems.length, row.blocked.length, `${row.name}: problems ${JSON.stringify(a.problems)}`);
    row.blocked.forEach((re, i) => assert.match(a.problems[i], re, row.name));
  }
});
