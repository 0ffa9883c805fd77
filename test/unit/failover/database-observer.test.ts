// standbyLag: a standby's lag behind the active primary's position, as the status shows it. Pure, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standbyLag } from '../../../src/failover/database-observer.ts';
import type { TargetState } from '../../../src/failover/steps/postgres-position.ts';

const target = (o: Partial<TargetState['observation']>): TargetState => ({
  inRecovery: true, systemIdentifier: '7', timeline: 1, mayPromote: true,
  observation: { receiveLsn: '0/3000000', replayLsn: '0/3000000', paused: false, replayAgeSeconds: 42, systemIdentifier: '7', standbyName: 'standby', ...o },
});
const source = { lsn: '0/3000000', systemIdentifier: '7', timeline: 1, at: '2026-12-02T00:00:00.000Z', standbys: [{ applicationName: 'standby', clientAddr: null, state: 'streaming', syncState: 'async', flushLsn: null, replayLsn: null }] };

test('standbyLag: bytes not replayed and not received, seconds only while WAL is pending', () => {
  const table: Array<[string, TargetState, typeof source | undefined, Partial<ReturnType<typeof standbyLag>>]> = [
    ['caught up: 0 bytes, 0 s however old the last commit', target({}), source, { lagBytes: 0, receiveLagBytes: 0, lagSeconds: 0, replication: { state: 'streaming', syncState: 'async' }, error: null, sourceAt: source.at }],
    ['replay paused: received everything, replayed less', target({ replayLsn: '0/2FF0000', paused: true }), { ...source }, { lagBytes: 0x10000, receiveLagBytes: 0, lagSeconds: 42, replayPaused: true }],
    ['behind in receiving too', target({ receiveLsn: '0/2FF8000', replayLsn: '0/2FF0000' }), source, { lagBytes: 0x10000, receiveLagBytes: 0x8000, lagSeconds: 42 }],
    ['an LSN across the 4 GiB boundary', target({ receiveLsn: '0/FFFFFF00', replayLsn: '0/FFFFFF00' }), { ...source, lsn: '1/00000100' }, { lagBytes: 0x200, receiveLagBytes: 0x200 }],
    ['ahead of a position read a moment earlier: 0, not negative', target({ receiveLsn: '0/3000100', replayLsn: '0/3000100' }), source, { lagBytes: 0, lagSeconds: 0 }],
    ['pending WAL and no commit replayed yet: seconds unknown', target({ replayLsn: '0/2FF0000', replayAgeSeconds: null }), source, { lagBytes: 0x10000, lagSeconds: null }],
    ['nothing replayed yet: unknown', target({ receiveLsn: null, replayLsn: null }), source, { lagBytes: null, receiveLagBytes: null, lagSeconds: null }],
    ['not listed by the primary', target({ standbyName: 'other' }), source, { lagBytes: 0, replication: null }],
    ['no position of the primary known', target({}), undefined, { lagBytes: null, lagSeconds: null, sourceAt: null }],
  ];
  for (const [name, t, s, want] of table) {
    const got = standbyLag(t, s);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, `${name}: ${k}`);
  }
});

test('standbyLag: another database (other system identifier) has no lag figure and says why', () => {
  const got = standbyLag(target({ systemIdentifier: '8', replayLsn: '0/1000000' }), source);
  assert.equal(got.lagBytes, null);
  assert.match(got.error ?? '', /system identifier 8 is not the active primary's 7/);
});
