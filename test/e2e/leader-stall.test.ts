// A leader whose keep-alives stall for longer than the renew deadline but shorter than the
// lease (an etcd leader change, a GC pause, a slow disk on the etcd side) steps down on its own
// clock, as it must. Its lease then survives (the keep-alives go through again before the TTL),
// and with it the leader key. The cluster must not be left without a leader: either the
// instance resumes leading under its unchanged key, or it gives the key up so that another can
// take it. Found by test/e2e/three-instances.test.ts scenario 7 (an etcd leader killed during a
// move left all three instances "not the leader" for good, the key held by a live lease).
// Real 3-member etcd, each contender its own process (SIGSTOP is the stall).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { electionTiming } from '../../src/failover/leader.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { createContenders } from '../support/contender.ts';

// 10 s: the stall (between the renew deadline, 6.7 s, and the lease, 10 s) leaves over a second
// for the first keep-alive after SIGCONT to reach etcd before the lease would expire.
const TTL = 10;
const timing = electionTiming(TTL);
const STALL_MS = Math.round((timing.renewDeadline + timing.leaseDuration) / 2) - timing.retryPeriod;
const SLACK = 3000;

let etcd: EtcdCluster;
const contenders = createContenders();

before(async () => { etcd = await startEtcdCluster(); });
after(async () => {
  await contenders.stopAll();
  await etcd?.stop();
});

test('a leader stalled past its renew deadline but not its lease: someone leads again within a lease period', { timeout: 120_000 }, async (t) => {
  assert.ok(STALL_MS > timing.renewDeadline && STALL_MS < timing.leaseDuration - timing.retryPeriod, `stall ${STALL_MS} ms between renew deadline and lease`);
  const prefix = `/swy-stall/${process.pid}`;
  const a = contenders.start('a', prefix, TTL, etcd.endpoints);
  const first = await a.next((e) => e.t === 'leading', 30_000);
  const others = ['b', 'c'].map((n) => contenders.start(n, prefix, TTL, etcd.endpoints));
  for (const c of others) await c.next((e) => e.t === 'leader' && e.name === 'a', 30_000);
  // Wait right after a keep-alive round, so the stall starts with a fresh acknowledgement.
  await delay(timing.retryPeriod);
  const from = a.events.length;
  a.signal('SIGSTOP');
  await delay(STALL_MS);
  a.signal('SIGCONT');
  const resumedAt = performance.now();
  const stopped = await a.next((e) => e.t === 'stopped', 10_000, from);
  t.diagnostic(`a stepped down on its clock: ${stopped.reason}`);
  // Within one lease period (plus a round and slack) someone must lead: a again, or another.
  const bound = timing.leaseDuration + timing.retryPeriod + SLACK;
  const again = await Promise.any([a, ...others].map((c) => c.next((e) => e.t === 'leading', bound, c === a ? from : 0).then((e) => ({ c, e }))))
    .catch(() => null);
  assert.ok(again, `nobody led within ${bound} ms after the stalled leader resumed (term ${first.term}): its key stays under its live lease while it no longer acts`);
  t.diagnostic(`${again.c.name} leads (term ${again.e.term}) ${Math.round(again.e.at - resumedAt)} ms after SIGCONT`);
  assert.ok(again.e.term! >= first.term!, 'terms never go back');
  const n0 = again.c.events.length;
  again.c.send('write');
  assert.equal((await again.c.next((e) => e.t === 'write', 10_000, n0)).ok, true, 'the leader can commit');
});
