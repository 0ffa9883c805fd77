// The routing state on a real 3-member etcd: the first write creates the key only if absent;
// every write is guarded by the leader key and the state's mod revision (a stale writer gets
// SWY_STATE_CONFLICT, a writer whose leader key is gone SWY_STORE_NOT_LEADER and nothing is
// written); a corrupt value is SWY_STATE_CORRUPT; watchers see every committed state in order,
// across a member restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { createEtcdClient, type EtcdClient } from '../../src/routing/etcd-client.ts';
import { createEtcdStateStore } from '../../src/routing/etcd-state-store.ts';
import { createRouting, initialState } from '../../src/routing/routing.ts';
import type { Compare } from '../../src/routing/coordination.ts';
import type { RoutingState } from '../../src/routing/types.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';

let etcd: EtcdCluster;
let kv: EtcdClient;
before(async () => {
  etcd = await startEtcdCluster();
  kv = createEtcdClient({ endpoints: etcd.endpoints, watchIdleTimeout: 3000 });
});
after(async () => {
  await kv?.close();
  await etcd?.stop();
});

const next = (s: RoutingState, active = s.active): RoutingState => ({ ...s, generation: s.generation + 1, active, updatedAt: new Date().toISOString() });

async function leaderKey(prefix: string, name: string): Promise<Compare[]> {
  const lease = await kv.leaseGrant(30);
  const r = await kv.txn({ compare: [{ key: `${prefix}/leader`, target: 'create', op: '=', value: 0 }], success: [{ type: 'put', key: `${prefix}/leader`, value: name, lease: lease.id }] });
  assert.ok(r.succeeded);
  return [{ key: `${prefix}/leader`, target: 'create', op: '=', value: r.revision }];
}

test('guarded writes: created once, compare on mod revision, refused without the leader key', async () => {
  const prefix = `/swy-state/${process.pid}/1`;
  const guard = await leaderKey(prefix, 'a');
  const refusals: string[] = [];
  const a = createEtcdStateStore({ prefix }, { store: kv, guard: () => guard, onGuardRefused: (r) => refusals.push(r) });
  const b = createEtcdStateStore({ prefix }, { store: kv, guard: () => guard });
  assert.equal(await a.load(), null);
  const s1 = initialState('east', new Date());
  await a.save(s1, 0);
  await assert.rejects(b.save(s1, 0), (err) => isSwitchyardError(err, 'SWY_STATE_CONFLICT'), 'created only once');

  assert.deepEqual(await b.load(), s1);
  const s2 = next(s1, 'west');
  await a.save(s2, 1);
  await assert.rejects(b.save(next(s1), 1), (err) => isSwitchyardError(err, 'SWY_STATE_CONFLICT'), 'b read generation 1, which is gone');
  assert.equal((await b.load())?.active, 'west');

  // The leader key goes (its lease expired, another took it): nothing is written.
  await kv.txn({ compare: [], success: [{ type: 'delete', key: `${prefix}/leader` }] });
  await leaderKey(prefix, 'c');
  const before = (await kv.read(a.key)).kvs[0];
  await assert.rejects(a.save(next(s2), 2), (err) => isSwitchyardError(err, 'SWY_STORE_NOT_LEADER') && /held by c/.test(err.message));
  assert.equal(refusals.length, 1);
  assert.equal((await kv.read(a.key)).kvs[0].modRevision, before.modRevision);

  await kv.txn({ compare: [], success: [{ type: 'put', key: a.key, value: '{"version":1}' }] });
  await assert.rejects(a.load(), (err) => isSwitchyardError(err, 'SWY_STATE_CORRUPT'));
});

test('a watcher sees every committed state in order, across a restart of its member', async () => {
  const prefix = `/swy-state/${process.pid}/2`;
  const guard = await leaderKey(prefix, 'a');
  const writer = createEtcdStateStore({ prefix }, { store: kv, guard: () => guard });
  let s = initialState('east', new Date());
  await writer.save(s, 0);

  // The watcher's own member will die; not etcd's leader, so the writer's proposals are not held by an election.
  const victim = (await etcd.leader()) === 1 ? 2 : 1;
  const watcherClient = createEtcdClient({ endpoints: [etcd.members[victim].clientUrl, etcd.members[3 - victim].clientUrl], watchIdleTimeout: 3000 });
  const follower = createEtcdStateStore({ prefix }, { store: watcherClient, guard: () => { throw new Error('followers never write'); } });
  const seen: number[] = [];
  const loaded = await follower.load();
  assert.equal(loaded?.generation, 1);
  const w = follower.watch((state) => { seen.push(state.generation); });
  try {
    for (let i = 0; i < 3; i++) { const n = next(s); await writer.save(n, s.generation); s = n; }
    await etcd.members[victim].stop('SIGKILL');
    for (let i = 0; i < 3; i++) { const n = next(s); await writer.save(n, s.generation); s = n; }
    const deadline = Date.now() + 30_000;
    while (seen.length < 6 && Date.now() < deadline) await delay(50);
    assert.deepEqual(seen, [2, 3, 4, 5, 6, 7]);
  } finally {
    await w.stop();
    await watcherClient.close();
    await etcd.members[victim].start();
  }
});

test('a follower serves exactly the committed states: the leader\'s commits arrive, a refused write never does', async () => {
  const prefix = `/swy-state/${process.pid}/3`;
  let guard = await leaderKey(prefix, 'a');
  const leaderStore = createEtcdStateStore({ prefix }, { store: kv, guard: () => guard });
  const leader = await createRouting({ store: leaderStore, clusters: ['east', 'west'] });
  const followerClient = createEtcdClient({ endpoints: [...etcd.endpoints].reverse(), watchIdleTimeout: 3000 });
  const followerStore = createEtcdStateStore({ prefix }, { store: followerClient, guard: () => { throw new Error('followers never write'); } });
  const follower = await createRouting({ store: followerStore, clusters: ['east', 'west'] });
  const served: string[] = [];
  follower.subscribe((s) => served.push(`${s.generation}:${s.active}`));
  const w = followerStore.watch((s) => { follower.adopt(s); });
  try {
    await leader.commit((s) => ({ ...s, active: 'west', state: 'failed-over', reason: 'moved' }));
    await leader.commit((s) => ({ ...s, state: 'held', reason: 'held for the test' }));
    // The leader key changes hands: the old leader's next write is refused and must never be served.
    await kv.txn({ compare: [], success: [{ type: 'delete', key: `${prefix}/leader` }] });
    await leaderKey(prefix, 'b');
    await assert.rejects(leader.commit((s) => ({ ...s, active: 'east', reason: 'not committed' })), (err) => isSwitchyardError(err, 'SWY_STORE_NOT_LEADER'));
    assert.deepEqual([leader.current().generation, leader.current().active], [3, 'west'], 'the refused write did not change the leader\'s own snapshot either');
    guard = [];
    const deadline = Date.now() + 10_000;
    while (served.length < 2 && Date.now() < deadline) await delay(20);
    await delay(500);
    assert.deepEqual(served, ['2:west', '3:west']);
    assert.equal(follower.current().active, 'west');
    assert.equal(follower.adopt({ ...follower.state(), generation: 1, active: 'east' }), false, 'an older state is ignored');
    assert.equal(follower.current().generation, 3);
  } finally {
    await w.stop();
    await followerClient.close();
  }
});
