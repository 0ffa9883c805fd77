import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type PolicyInput } from '../../../src/failover/policy.ts';
import { initialState } from '../../../src/routing/index.ts';
import type { ClusterHealth } from '../../../src/health/types.ts';
import type { RoutingState } from '../../../src/routing/index.ts';

const NOW = Date.parse('2026-11-21T12:00:00Z');
const probe = (ok: boolean | null) => ({ name: 'http', ok, latencyMs: 1, error: ok === false ? 'ECONNREFUSED' : null, checkedAt: null });
const h = (name: string, healthy: boolean | null, probeOk: boolean | null = healthy): ClusterHealth => ({ name, healthy, probes: [probe(probeOk)], since: null });
const state = (over: Partial<RoutingState> = {}): RoutingState => ({ ...initialState('east', new Date(NOW - 3_600_000)), ...over });
const finished = (minutesAgo: number) => ({ epoch: 1, kind: 'failover' as const, from: 'west', to: 'east', reason: 'r', forced: false, startedAt: 'x', finishedAt: new Date(NOW - minutesAgo * 60_000).toISOString(), outcome: 'completed' as const, journal: [] });

const input = (s: RoutingState, health: ClusterHealth[], over: Partial<PolicyInput> = {}): PolicyInput => ({ state: s, health, clusters: ['east', 'west'], automatic: true, cooldownMs: 300_000, now: NOW, ...over });

const table: Array<[string, PolicyInput, string]> = [
  ['both healthy, steady: nothing', input(state(), [h('east', true), h('west', true)]), 'none'],
  ['no verdict yet at boot: nothing', input(state(), [h('east', null), h('west', null)]), 'none'],
  ['active down, passive healthy: failover', input(state(), [h('east', false), h('west', true)]), 'failover east→west'],
  ['active down, passive down: held', input(state(), [h('east', false), h('west', false)]), 'set-state held'],
  ['active down, passive unknown: held', input(state(), [h('east', false), h('west', null)]), 'set-state held'],
  ['active down, automatic off: held', input(state(), [h('east', false), h('west', true)], { automatic: false }), 'set-state held'],
  ['active down within cooldown: held', input(state({ transition: finished(2) }), [h('east', false), h('west', true)]), 'set-state held'],
  ['active down after cooldown: failover', input(state({ transition: finished(10) }), [h('east', false), h('west', true)]), 'failover east→west'],
  ['probe failing but verdict up: suspect', input(state(), [h('east', true, false), h('west', true)]), 'set-state suspect'],
  ['suspect clears back to steady', input(state({ state: 'suspect', reason: 'x' }), [h('east', true), h('west', true)]), 'set-state steady'],
  ['after failover, old primary healthy again: no failback', input(state({ active: 'west', state: 'failed-over' }), [h('east', true), h('west', true)]), 'none'],
  ['after failover, new active down: held, never automatic back', input(state({ active: 'west', state: 'failed-over' }), [h('east', true), h('west', false)]), 'set-state held'],
  ['transition running: nothing', input(state({ state: 'failing-over' }), [h('east', false), h('west', true)]), 'none'],
  ['held by a precheck, active recovers: steady', input(state({ state: 'held', reason: 'lag' }), [h('east', true), h('west', true)]), 'set-state steady'],
  ['held by a precheck, still down: try again', input(state({ state: 'held', reason: 'lag' }), [h('east', false), h('west', true)]), 'failover east→west'],
  ['held mid-transition by a step: sticky', input(state({ state: 'held', transition: { ...finished(1), finishedAt: undefined, outcome: 'held' } }), [h('east', true), h('west', true)]), 'none'],
];

for (const [name, inp, expected] of table) {
  test(name, () => {
    const d = decide(inp);
    const got = d.action === 'failover' ? `failover ${d.from}→${d.to}` : d.action === 'set-state' ? `set-state ${d.state}` : 'none';
    assert.equal(got, expected, JSON.stringify(d));
  });
}

test('a failing passive signal alone does not make the active suspect', () => {
  const east: ClusterHealth = { name: 'east', healthy: true, probes: [probe(true), { ...probe(false), name: 'passive' }], since: null };
  assert.deepEqual(decide(input(state(), [east, h('west', true)])), { action: 'none' });
});

test('the same held reason twice is not a change', () => {
  const inp = input(state(), [h('east', false), h('west', false)]);
  const d = decide(inp);
  assert.equal(d.action, 'set-state');
  if (d.action !== 'set-state') return;
  assert.equal(decide({ ...inp, state: state({ state: 'held', reason: d.reason }) }).action, 'none');
});

test('the failover reason says what failed', () => {
  const d = decide(input(state(), [h('east', false), h('west', true)]));
  assert.equal(d.action, 'failover');
  if (d.action === 'failover') assert.match(d.reason, /east is down: 1\/1 probes failing \(http: ECONNREFUSED\)/);
});
