import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsoleFeed, HISTORY_WINDOW_MS } from '../../../src/admin/console.ts';
import { attentionFor, type StatusView } from '../../../src/admin/status.ts';
import type { RoutingState, Transition } from '../../../src/routing/index.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function status(at: number, latencyMs: number, ok: boolean, transition: Transition | null = null): StatusView {
  return {
    active: 'east', preferred: 'east', state: 'steady', reason: '', generation: 1, epoch: 0, automatic: true,
    clusters: [{ name: 'east', active: true, healthy: true, addresses: ['127.0.0.2'], since: null, database: null, probes: [{ name: 'http', ok, latencyMs, error: null, checkedAt: iso(at) }] }],
    lastTransition: transition, unfenced: null, attention: [], returnHint: null, updatedAt: iso(at), store: { ok: true, error: null, since: iso(at), lastWriteAt: null, restores: 0, description: 'file /x' }, endpoints: { hostnames: [], dns: [], proxy: null }, instance: 'test', coordination: null, parity: null,
  };
}
const move = (epoch: number): Transition => ({ epoch, kind: 'failover', from: 'east', to: 'west', reason: 'r', forced: false, startedAt: iso(T0), journal: [] });

test('the probe ring records each result once and keeps only the last 15 minutes', () => {
  const feed = createConsoleFeed();
  feed.sample(status(T0, 5, true), T0);
  feed.sample(status(T0, 5, true), T0 + 500);          // same checkedAt: not a new sample
  feed.sample(status(T0 + 1000, 7.25, false), T0 + 1000);
  let h = feed.history(T0 + 1000);
  assert.deepEqual(h.probes, [{ cluster: 'east', probe: 'http', t: [T0, T0 + 1000], ms: [5, 7.3], ok: [true, false] }]);
  h = feed.history(T0 + HISTORY_WINDOW_MS + 500);
  assert.deepEqual(h.probes[0].t, [T0 + 1000]);
  for (let i = 0; i < 3000; i++) feed.sample(status(T0 + 2000 + i * 100, i, true), T0 + 2000 + i * 100);
  h = feed.history(T0 + 2000 + 2999 * 100);
  assert.equal(h.probes[0].t.length, 2048, 'the ring is bounded');
  assert.equal(h.probes[0].ms.at(-1), 2999);
});

test('a new move pushes the previous one onto the in-memory list, newest first', () => {
  const feed = createConsoleFeed();
  feed.sample(status(T0, 1, true, move(1)), T0);
  feed.sample(status(T0, 1, true, { ...move(1), finishedAt: iso(T0 + 10) }), T0);
  assert.deepEqual(feed.previousMoves(), []);
  feed.sample(status(T0, 1, true, move(2)), T0);
  feed.sample(status(T0, 1, true, move(3)), T0);
  assert.deepEqual(feed.previousMoves().map((t) => [t.epoch, t.finishedAt]), [[2, undefined], [1, iso(T0 + 10)]]);
});

const state = (over: Partial<RoutingState>): RoutingState => ({ version: 1, generation: 3, epoch: 1, active: 'east', state: 'steady', reason: '', transition: null, updatedAt: iso(T0), ...over });

test('attention: a hold carries its code, a down active cluster and an unfenced old primary their own banners', () => {
  const clusters = status(T0, 1, true).clusters;
  assert.deepEqual(attentionFor(state({}), clusters), []);
  const stepFailed = state({ state: 'held', holdCode: 'SWY_FAILOVER_STEP_FAILED', reason: 'step promote failed', transition: { ...move(1), outcome: 'held', journal: [{ step: 'promote', index: 0, phase: 'failed', attempt: 1, at: iso(T0), error: 'x' }] } });
  assert.equal(attentionFor(stepFailed, clusters)[0].code, 'SWY_FAILOVER_STEP_FAILED');
  assert.match(attentionFor(stepFailed, clusters)[0].todo, /resumes from that step/);
  // The code is the recorded one, never read from the reason's text.
  assert.equal(attentionFor(state({ state: 'held', holdCode: 'SWY_FAILOVER_PRECHECK_FAILED', reason: 'anything' }), clusters)[0].code, 'SWY_FAILOVER_PRECHECK_FAILED');
  assert.equal(attentionFor(state({ state: 'held', reason: 'blocked by prechecks: written before holdCode existed' }), clusters)[0].code, 'SWY_FAILOVER_HELD');
  const down = [{ ...clusters[0], healthy: false, probes: [{ ...clusters[0].probes[0], ok: false, error: 'refused' }] }];
  const a = attentionFor(state({ unfenced: { cluster: 'west', epoch: 1, since: iso(T0), detail: 'unreachable' } }), down);
  assert.deepEqual(a.map((x) => x.kind), ['active-down', 'unfenced']);
  assert.match(a[0].message, /traffic goes to east, which is down \(http: refused\)/);
  assert.match(a[1].todo, /west's database takes no writes/);
});

test('attention: a store that cannot be written has a banner with the store error\'s code, after the others', () => {
  const clusters = status(T0, 1, true).clusters;
  const store = { ok: false, error: { code: 'SWY_STATE_WRITE', message: 'ENOSPC: no space left on device' }, since: iso(T0), lastWriteAt: null, restores: 0, description: 'file /x/state.json' };
  assert.deepEqual(attentionFor(state({}), clusters, { ...store, ok: true, error: null }), []);
  const a = attentionFor(state({ state: 'held', reason: 'r' }), clusters, store);
  assert.deepEqual(a.map((x) => [x.kind, x.code]), [['held', 'SWY_FAILOVER_HELD'], ['store', 'SWY_STATE_WRITE']]);
  assert.match(a[1].message, /cannot be written \(file \/x\/state\.json\) since 2026-12-01T10:00:00\.000Z: ENOSPC/);
  assert.match(a[1].todo, /no move can be recorded/);
  const unreadable = attentionFor(state({}), clusters, { ...store, error: { code: 'SWY_STATE_READ', message: 'EACCES' } });
  assert.match(unreadable[0].message, /^the routing state cannot be read \(file/);
  assert.equal(unreadable[0].code, 'SWY_STATE_READ');
});
