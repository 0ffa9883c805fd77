// `switchyard status` exit codes from the status view: pure, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusView } from '../../../src/admin/index.ts';
import { databaseLine, formatStatus, statusProblems } from '../../../src/cli/format-status.ts';

const base: StatusView = {
  active: 'east', preferred: 'east', state: 'steady', reason: 'ok', generation: 3, epoch: 0, automatic: true,
  clusters: [
    { name: 'east', active: true, healthy: true, addresses: ['127.0.0.2'], probes: [], since: null, database: null },
    { name: 'west', active: false, healthy: true, addresses: ['127.0.0.3'], probes: [], since: null, database: null },
  ],
  lastTransition: null, updatedAt: '2026-12-01T00:00:00.000Z', unfenced: null, attention: [], returnHint: null,
  store: { ok: true, error: null, since: '2026-12-01T00:00:00.000Z', lastWriteAt: null, restores: 0, description: 'file /x' },
  endpoints: { hostnames: ['app.example.com'], dns: [], proxy: null }, instance: 'test', coordination: null, parity: null,
};
const down = (name: string) => base.clusters.map((c) => (c.name === name ? { ...c, healthy: false } : c));

test('statusProblems: one exit code per condition, the lowest first', () => {
  const table: Array<[Partial<StatusView>, number[]]> = [
    [{}, []],
    [{ clusters: down('west') }, []],
    [{ state: 'held', reason: 'no healthy cluster' }, [3]],
    [{ clusters: down('east') }, [4]],
    [{ unfenced: { cluster: 'east', epoch: 1, since: 't', detail: 'unreachable' }, active: 'west', clusters: down('east') }, [5]],
    [{ store: { ...base.store, ok: false, error: { code: 'SWY_STATE_WRITE', message: 'ENOSPC' } } }, [6]],
    [{ state: 'held', clusters: down('east'), store: { ...base.store, ok: false, error: { code: 'SWY_STATE_WRITE', message: 'ENOSPC' } } }, [3, 4, 6]],
  ];
  for (const [over, want] of table) assert.deepEqual(statusProblems({ ...base, ...over }).map((p) => p.exit), want, JSON.stringify(over));
});

test('formatStatus shows an unfenced old primary and a failing store on top', () => {
  const text = formatStatus({ ...base, unfenced: { cluster: 'east', epoch: 1, since: 't', detail: 'unreachable' }, store: { ...base.store, ok: false, error: { code: 'SWY_STATE_WRITE', message: 'ENOSPC' } } });
  assert.match(text, /^OLD PRIMARY UNFENCED: east since t \(epoch 1\): unreachable$/m);
  assert.match(text, /^STATE STORE FAILING \(file \/x\) since .*SWY_STATE_WRITE ENOSPC$/m);
});

test('formatStatus lists each database\'s role and a standby\'s lag, and nothing without databases', () => {
  assert.doesNotMatch(formatStatus(base), /DATABASE/);
  const none = { role: 'unknown' as const, checkedAt: null, error: null, lsn: null, lagBytes: null, receiveLagBytes: null, lagSeconds: null, replayPaused: false, replication: null, sourceAt: null };
  const clusters = [
    { ...base.clusters[0], database: { ...none, role: 'primary' as const, lsn: '0/3000000' } },
    { ...base.clusters[1], database: { ...none, role: 'standby' as const, lsn: '0/2F00000', lagBytes: 1048576, receiveLagBytes: 0, lagSeconds: 2.84, replayPaused: true, replication: { state: 'streaming', syncState: 'async' } } },
  ];
  const text = formatStatus({ ...base, clusters });
  assert.match(text, /^east {8}primary at 0\/3000000$/m);
  assert.match(text, /^west {8}standby, lag 1048576 bytes, 2\.8 s behind, 0 bytes not yet received, replay PAUSED, streaming async$/m);
  assert.equal(databaseLine({ ...none, role: 'unreachable', error: '127.0.0.1:5432/postgres: connection refused' }), 'UNREACHABLE, 127.0.0.1:5432/postgres: connection refused');
  assert.equal(databaseLine({ ...none, role: 'standby' }), 'standby, lag unknown, not listed by the active primary');
  const stale = { ...none, role: 'standby' as const, lagBytes: 0, receiveLagBytes: 0, lagSeconds: 0, checkedAt: '2026-12-02T00:01:00.000Z' };
  assert.equal(databaseLine({ ...stale, sourceAt: '2026-12-02T00:00:59.000Z' }), 'standby, lag 0 bytes, 0.0 s behind, not listed by the active primary');
  assert.equal(databaseLine({ ...stale, sourceAt: '2026-12-02T00:00:00.000Z' }), 'standby, lag 0 bytes, 0.0 s behind, not listed by the active primary, counted from the primary\'s position recorded at 2026-12-02T00:00:00.000Z');
});

test('formatStatus with several instances: this instance, the leader and term, the store, each observation with its age; an unreachable store exits 6', () => {
  const coordination: NonNullable<StatusView['coordination']> = {
    leader: { name: 'edge-a', term: 4711 }, leading: false, term: null, storeReachable: true, storeError: null, unreachableSince: null,
    answerTtl: 30, instances: 3, quorum: 2,
    observations: [
      { instance: 'edge-a', verdicts: { east: true, west: true }, at: 't', ageSeconds: 0.4, fresh: true },
      { instance: 'edge-b', verdicts: { east: false, west: null }, at: 't', ageSeconds: 12.25, fresh: false },
    ],
  };
  const text = formatStatus({ ...base, instance: 'edge-b', coordination });
  assert.match(text, /^instance: edge-b   leader: edge-a \(term 4711\)   store: reachable   DNS TTL 30 s   quorum 2 of 3$/m);
  assert.match(text, /^  observed by edge-a\s+0\.4 s ago\s+east up, west up$/m);
  assert.match(text, /^  observed by edge-b\s+12\.3 s ago \(STALE\)\s+east DOWN, west unknown$/m);
  const leading = formatStatus({ ...base, instance: 'edge-a', coordination: { ...coordination, leading: true, term: 4711 } });
  assert.match(leading, /^instance: edge-a \(LEADER\)/m);
  const cut = { ...base, coordination: { ...coordination, storeReachable: false, storeError: 'connect ECONNREFUSED', unreachableSince: 'T', answerTtl: 5 }, store: { ...base.store, ok: false, since: 'T', error: { code: 'SWY_STORE_UNAVAILABLE', message: 'connect ECONNREFUSED' } } };
  assert.match(formatStatus(cut), /store: UNREACHABLE since T \(connect ECONNREFUSED\)   DNS TTL 5 s/);
  assert.deepEqual(statusProblems(cut).map((p) => p.exit), [6]);
});

test('formatStatus has a parity line: differences per pair, unknown with its error, nothing without parity', () => {
  assert.doesNotMatch(formatStatus(base), /parity/);
  const at = '2026-12-01T00:00:05.000Z';
  const drift = formatStatus({ ...base, parity: { checkedAt: at, error: null, reports: [{ clusters: ['east', 'west'], checkedAt: at, blocking: true, differences: [
    { kind: 'image', object: 'deployment app/web container app', values: { east: 'a@sha256:aa', west: 'a@sha256:bb' }, blocking: true },
    { kind: 'missing', object: 'service app/web', values: { east: 'present', west: 'absent' }, blocking: false },
  ] }] } });
  assert.match(drift, /^parity east ↔ west: 2 difference\(s\), 1 blocking: image deployment app\/web container app; missing service app\/web \(2026-12-01T00:00:05\.000Z\)$/m);
  assert.match(formatStatus({ ...base, parity: { checkedAt: at, error: null, reports: [{ clusters: ['east', 'west'], checkedAt: at, blocking: false, differences: [] }] } }), /^parity east ↔ west: no differences \(2026-12-01T00:00:05\.000Z\)$/m);
  assert.match(formatStatus({ ...base, parity: { checkedAt: at, error: 'SWY_PARITY_UNKNOWN: parity unknown: SWY_KUBE_FORBIDDEN: x', reports: [] } }), /^parity: unknown \(SWY_PARITY_UNKNOWN: .*SWY_KUBE_FORBIDDEN: x\) \(2026-12-01T00:00:05\.000Z\)$/m);
  assert.match(formatStatus({ ...base, parity: { checkedAt: null, error: null, reports: [] } }), /^parity: not compared yet$/m);
});
