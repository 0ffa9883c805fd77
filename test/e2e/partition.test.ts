// A real partition: three sites, each its own network namespace holding one etcd member and
// one contender, joined by a bridge. The leader's site is cut off (link down, or iptables DROP):
// the isolated leader stops leading on its own clock and cannot commit; the majority side elects
// a leader with a higher term; when the link returns the isolated contender follows it.
// Needs root (CI runs as root), ip (iproute2) and iptables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { electionTiming } from '../../src/failover/leader.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { createContenders, type Contender, type ContenderEvent } from '../support/contender.ts';
import { createNetworkLab, type CutMode, type NetworkLab, type Site } from '../support/netns.ts';

const TTL = 3;
const timing = electionTiming(TTL);
const ELECTION_TIMEOUT = 1000;
const SLACK = 2500;

let lab: NetworkLab;
let sites: Site[];
let etcd: EtcdCluster;
const contenders = createContenders();

before(async () => {
  lab = createNetworkLab();
  sites = ['a', 'b', 'c'].map((n) => lab.addSite(n));
  etcd = await startEtcdCluster({ members: sites.map((s) => ({ host: s.address, wrap: s.wrap })), electionTimeout: ELECTION_TIMEOUT });
});
after(async () => {
  await contenders.stopAll();
  await etcd?.stop();
  lab?.close();
});

/** The endpoints as a contender at site i sees them: its own member first. */
const endpointsFrom = (i: number) => [etcd.endpoints[i], ...etcd.endpoints.filter((_, j) => j !== i)];

let round = 0;
for (const mode of ['link', 'drop'] as CutMode[]) {
  test(`the leader's site is cut off (${mode}): it stops leading and cannot commit; the majority elects; after healing one leader again and its old term refused`, async (t) => {
    const prefix = `/swy-part/${process.pid}/${++round}`;
    const a = contenders.start(`a${round}`, prefix, TTL, endpointsFrom(0), sites[0].wrap);
    const first = await a.next((e) => e.t === 'leading', 30_000);
    const others: Contender[] = [1, 2].map((i) => contenders.start(`${'abc'[i]}${round}`, prefix, TTL, endpointsFrom(i), sites[i].wrap));
    for (const c of others) await c.next((e) => e.t === 'leader' && e.name === a.name, 30_000);
    const w0 = a.events.length;
    a.send('write');
    assert.equal((await a.next((e) => e.t === 'write', 10_000, w0)).ok, true, 'the leader commits before the cut');

    const from = a.events.length;
    const cutAt = performance.now();
    let elected!: { c: Contender; e: ContenderEvent };
    lab.cut(sites[0], mode);
    try {
      const stopped = await a.next((e) => e.t === 'stopped', timing.renewDeadline + SLACK + 5000, from);
      assert.ok(stopped.at - cutAt <= timing.renewDeadline + SLACK, `the isolated leader stopped ${Math.round(stopped.at - cutAt)} ms after the cut (renew deadline ${timing.renewDeadline} ms)`);

      t.diagnostic(`cut (${mode}) → isolated leader stopped after ${Math.round(stopped.at - cutAt)} ms`);
      const bound = ELECTION_TIMEOUT + timing.leaseDuration + timing.retryPeriod + SLACK;
      elected = await Promise.any(others.map((c) => c.next((e) => e.t === 'leading', bound + 10_000).then((e) => ({ c, e }))));
      assert.ok(elected.e.at - cutAt <= bound, `majority side elected ${elected.c.name} ${Math.round(elected.e.at - cutAt)} ms after the cut (bound ${bound} ms)`);
      t.diagnostic(`cut (${mode}) → majority elected after ${Math.round(elected.e.at - cutAt)} ms`);
      assert.ok(elected.e.term! > first.term!, `terms only increase (${first.term} → ${elected.e.term})`);
      assert.equal(others.filter((c) => c.leading()).length, 1, 'one leader on the majority side');

      const n0 = elected.c.events.length;
      elected.c.send('write');
      assert.equal((await elected.c.next((e) => e.t === 'write', 15_000, n0)).ok, true, 'the new leader commits');

      const i0 = a.events.length;
      a.send('reckless');
      const isolated = await a.next((e) => e.t === 'write', 30_000, i0);
      assert.equal(isolated.ok, false, 'the isolated old leader cannot commit, even ignoring its clock');
      assert.ok(!a.events.slice(from).some((e) => e.t === 'leading'), 'the isolated contender never leads');
    } finally {
      lab.heal(sites[0]);
    }
    // After healing, exactly one leader again: usually a follows the majority's leader, but a
    // rejoining member can move etcd's own leadership, stall keep-alives past the renew deadline
    // and so hand the key on (even to a, under a new, higher term). Either is correct.
    const settled = await a.next((e) => (e.t === 'leader' && e.name !== a.name) || e.t === 'leading', 30_000, from);
    if (settled.t === 'leading') assert.ok(settled.term! > elected.e.term!, `a leads again only under a higher term (${elected.e.term} → ${settled.term})`);
    // Right after healing, the isolated member may still be catching up and a request can fail
    // in transport (SWY_STATE_READ, SWY_STATE_WRITE). That is not the claim: retry a few times, a bounded number,
    // and require that no attempt commits and that the guard is what finally refuses it.
    const attempts: (string | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      const h0 = a.events.length;
      a.send('reckless');
      const healed = await a.next((e) => e.t === 'write', 15_000, h0);
      assert.equal(healed.ok, false, `reachable again, the old leader's write #${i + 1} must not commit`);
      attempts.push(healed.code);
      if (healed.code !== 'SWY_STATE_WRITE' && healed.code !== 'SWY_STATE_READ') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(attempts.at(-1), 'SWY_STORE_NOT_LEADER', `reachable again, its old term is refused by the guard (attempts: ${attempts.join(', ')})`);
    for (const c of [a, ...others]) c.signal('SIGKILL');
  });
}
