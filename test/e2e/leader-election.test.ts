// Leader election against a real 3-member etcd, with each contender in its own process:
// one leader among three; kill -9 of the leader hands over within TTL + retry period with a
// higher term; a leader SIGSTOPped past its lease stops acting on its own clock when it resumes,
// and even a write that ignores its clock is refused by the store's guard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { createEtcdClient, type EtcdClient } from '../../src/routing/etcd-client.ts';
import { electionTiming } from '../../src/failover/leader.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { createContenders, type Contender } from '../support/contender.ts';

const TTL = 2;   // seconds: etcd's minimum with a 1 s election timeout
const timing = electionTiming(TTL);
// Lease expiry is checked by etcd's leader every 500 ms; a loaded CI machine adds scheduling delay.
const SLACK = 1500;

let etcd: EtcdCluster;
let kv: EtcdClient;
const contenders = createContenders();
let run = 0;
const prefix = () => `/swy-test/${process.pid}/${++run}`;

before(async () => {
  etcd = await startEtcdCluster();
  kv = createEtcdClient({ endpoints: etcd.endpoints });
});
after(async () => {
  await contenders.stopAll();
  await kv?.close();
  await etcd?.stop();
});

async function oneLeader(cs: Contender[], timeoutMs = 20_000): Promise<{ leader: Contender; term: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leaders = cs.filter((c) => c.leading());
    assert.ok(leaders.length <= 1, `two contenders lead at once: ${leaders.map((c) => c.name).join(', ')}`);
    if (leaders.length === 1) {
      const e = leaders[0].events.findLast((x) => x.t === 'leading')!;
      return { leader: leaders[0], term: e.term! };
    }
    if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms: ${cs.map((c) => `${c.name} ${JSON.stringify(c.events)}`).join('\n')}`);
    await delay(20);
  }
}

test('three contenders: exactly one leads, its term is the leader key\'s create revision; kill -9 hands over within TTL + retry', async (t) => {
  const p = prefix();
  const cs = ['a', 'b', 'c'].map((n) => contenders.start(n, p, TTL, etcd.endpoints));
  const { leader, term } = await oneLeader(cs);
  const key = (await kv.read(`${p}/leader`)).kvs[0];
  assert.equal(key.value, leader.name);
  assert.equal(key.createRevision, term);
  await delay(timing.leaseDuration * 2);
  assert.equal(cs.filter((c) => c.leading()).length, 1, 'leadership is stable while the leader renews');
  assert.equal((await kv.read(`${p}/leader`)).kvs[0].createRevision, term, 'the same term');

  const killedAt = performance.now();
  leader.signal('SIGKILL');
  await leader.exited();
  const rest = cs.filter((c) => c !== leader);
  const next = await oneLeader(rest, timing.leaseDuration + timing.retryPeriod + SLACK + 5000);
  const took = performance.now() - killedAt;
  const e = next.leader.events.findLast((x) => x.t === 'leading')!;
  t.diagnostic(`kill -9 of the leader → new leader after ${Math.round(e.at - killedAt)} ms (lease ${timing.leaseDuration} ms, retry ${timing.retryPeriod} ms)`);
  assert.ok(e.at - killedAt <= timing.leaseDuration + timing.retryPeriod + SLACK, `new leader after ${Math.round(took)} ms (bound ${timing.leaseDuration + timing.retryPeriod + SLACK})`);
  assert.ok(next.term > term, `terms only increase (${term} → ${next.term})`);

  const w = next.leader.events.length;
  next.leader.send('write');
  const written = await next.leader.next((x) => x.t === 'write', 10_000, w);
  assert.equal(written.ok, true, JSON.stringify(written));

  const follower = rest.find((c) => c !== next.leader)!;
  const f = follower.events.length;
  follower.send('write');
  const refused = await follower.next((x) => x.t === 'write', 10_000, f);
  assert.deepEqual([refused.ok, refused.code], [false, 'SWY_STORE_NOT_LEADER'], 'a follower cannot write');
});

test('a leader paused past its lease (SIGSTOP) stops acting on its own clock on SIGCONT; its stale guarded write is refused', async () => {
  const p = prefix();
  const cs = ['a', 'b', 'c'].map((n) => contenders.start(n, p, TTL, etcd.endpoints));
  const { leader, term } = await oneLeader(cs);
  const w0 = leader.events.length;
  leader.send('write');
  assert.equal((await leader.next((x) => x.t === 'write', 10_000, w0)).ok, true, 'the leader writes while it leads');

  leader.signal('SIGSTOP');
  const rest = cs.filter((c) => c !== leader);
  const next = await oneLeader(rest, 20_000);
  assert.ok(next.term > term);
  const n0 = next.leader.events.length;
  next.leader.send('write');
  assert.equal((await next.leader.next((x) => x.t === 'write', 10_000, n0)).ok, true);
  const before = (await kv.read(`${p}/state`)).kvs[0];

  const resumedFrom = leader.events.length;
  leader.signal('SIGCONT');
  // On its own clock: the deadline timer fires first, with no answer from the store needed.
  const stopped = await leader.next((x) => x.t === 'stopped', 5000, resumedFrom);
  assert.match(stopped.reason!, /no keep-alive acknowledged|lease/);
  assert.ok(!leader.events.slice(resumedFrom).some((x) => x.t === 'leading'), 'it never leads again with the old term');

  const w1 = leader.events.length;
  leader.send('write');
  const onClock = await leader.next((x) => x.t === 'write', 10_000, w1);
  assert.deepEqual([onClock.ok, onClock.code], [false, 'SWY_STORE_NOT_LEADER']);
  const w2 = leader.events.length;
  leader.send('reckless');
  const fenced = await leader.next((x) => x.t === 'write', 10_000, w2);
  assert.deepEqual([fenced.ok, fenced.code], [false, 'SWY_STORE_NOT_LEADER'], 'the store refuses the guard of an old term');
  const after = (await kv.read(`${p}/state`)).kvs[0];
  assert.equal(after.modRevision, before.modRevision, 'nothing was written by the resumed leader');
  assert.match(after.value, new RegExp(`written by ${next.leader.name}`));
});

test('a leader that stops gracefully deletes its key: another leads well before the TTL', async () => {
  const p = prefix();
  const cs = ['a', 'b'].map((n) => contenders.start(n, p, 10, etcd.endpoints));
  const { leader, term } = await oneLeader(cs);
  const t0 = performance.now();
  leader.send('stop');
  await leader.exited();
  const other = cs.find((c) => c !== leader)!;
  const e = await other.next((x) => x.t === 'leading', 20_000);
  assert.ok(e.term! > term);
  assert.ok(e.at - t0 < 10_000 - 1000, `took ${Math.round(e.at - t0)} ms, TTL is 10 s`);
});
