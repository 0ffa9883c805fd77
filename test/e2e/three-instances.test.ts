// Three switchyard processes on a real 3-member etcd, each in its own site (network namespace):
// A (cluster a's health endpoint, etcd member, instance a), B (cluster b, member, instance b),
// W (witness: member, instance w); real partitions (links down, iptables), real PostgreSQL
// promotion, exec steps that append one line per run. The scenarios of issue #8, each checked
// against the shared invariants (test/support/invariants.ts). Needs root, iproute2, iptables,
// etcd-server and postgresql (CI installs them; .ci/run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { electionTiming } from '../../src/failover/leader.ts';
import type { SwitchyardProcess } from '../support/switchyard-process.ts';
import { awaitConvergence, checkInvariants } from '../support/invariants.ts';
import { CLUSTER_ADDRESS, SITES, ZONE_TTL, coordinationOf, startThreeSites, until, type Deployment, type Sampler, type SiteName, type StatusDoc, type ThreeSites } from '../support/three-sites.ts';

const TTL = 3;
const timing = electionTiming(TTL);
/** A loaded 2-core machine: generous waits; the safety assertions themselves are never loosened. */
const SLACK = 4000;
/** Watch delay bound for convergence (the watch itself is immediate; this covers a re-read after a failed watch). */
const CONVERGE_MS = 8000;
/** How long "nothing moves" is watched: several health intervals and lease periods. */
const QUIET_MS = 5000;

const mark = (name: string) => `    - exec: { name: ${name}, command: [/bin/sh, -c, 'echo "$SWITCHYARD_IDEMPOTENCY_KEY" >> \${MARKS}/${name}'] }`;
/**
 * A step that takes a while, so a scenario can act during it; logs the start and the end of every
 * run, and `killed` when the run is ended by SIGTERM (a leader that steps down aborts its step: the
 * process group gets SIGTERM), so a run that was stopped is told from one that still runs.
 */
const slow = (seconds: number) => `    - exec: { name: slow, timeout: 60s, command: [/bin/sh, -c, 'K=$SWITCHYARD_IDEMPOTENCY_KEY; F=\${MARKS}/slow; trap "echo killed $K >> $F; exit 143" TERM; echo "start $K" >> $F; sleep ${seconds} & wait $!; echo "end $K" >> $F'] }`;
const BASIC = [mark('first'), '    - switch-traffic', mark('last')].join('\n');
const WITH_SLOW = (seconds: number) => [mark('first'), '    - switch-traffic', slow(seconds), mark('last')].join('\n');

let three: ThreeSites;

before(async () => { three = await startThreeSites(); });
after(async () => { await three?.close(); });

async function lastState(d: Deployment) {
  const h = await d.history();
  return h[h.length - 1];
}

/** All instances up, both clusters healthy in every instance's view, a leader, the first state committed and served. */
async function settled(d: Deployment, names: SiteName[] = SITES): Promise<{ name: SiteName; term: number }> {
  await until('every instance to see both clusters healthy', async () => {
    for (const n of names) {
      const s = await d.status(n);
      if (!(s.clusters as Array<{ healthy: boolean | null }>).every((c) => c.healthy === true)) return false;
    }
    return true;
  }, 20_000, d.logs);
  const leader = await until('a leader', () => d.leaderKey(), 20_000, d.logs);
  await awaitConvergence(d, () => d.history(), CONVERGE_MS, names);
  return { name: leader.name as SiteName, term: leader.term };
}

/** The move completed onto `to`, read from etcd; on a timeout the error says who leads in etcd and in each instance's view. */
async function moved(d: Deployment, to: string, timeoutMs: number) {
  try {
    return await until(`the move to ${to} to complete`, async () => {
      const s = await lastState(d);
      return s.active === to && s.transition?.outcome === 'completed' && s.transition.finishedAt ? s : false;
    }, timeoutMs, d.logs);
  } catch (err) {
    const key = await d.leaderKey().catch((e: Error) => e.message);
    const views = await Promise.all(SITES.map(async (n) => `${n}: ${await d.status(n).then((s) => JSON.stringify({ ...coordinationOf(s), observations: undefined, state: s.state }), (e: Error) => e.message)}`));
    (err as Error).message = `${(err as Error).message}\nleader key: ${JSON.stringify(key)}\n${views.join('\n')}`;
    throw err;
  }
}

/** Nothing moves for `ms`: no transition ever begins, every answer stays on a. */
async function nothingMoves(d: Deployment, ms: number, names: SiteName[]) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await lastState(d);
    assert.equal(s.epoch, 0, `no move begins (state ${s.state}, reason ${s.reason})`);
    assert.equal(s.active, 'a');
    for (const n of names) assert.deepEqual((await d.dig(n)).addresses, [CLUSTER_ADDRESS.a], `${n} answers a`);
    await delay(250);
  }
}

function assertOnce(d: Deployment, file: string, epoch: number) {
  assert.deepEqual(d.marks(file), [`switchyard:${epoch}:${file}`], `step ${file} ran exactly once`);
}

/** Runs of the slow step: each starts after the previous ended or was killed (no overlap), all with the move's key. */
function slowRuns(d: Deployment, epoch: number): number {
  const lines = d.marks('slow');
  let open = false;
  let runs = 0;
  for (const l of lines) {
    const [what, key] = l.split(' ');
    assert.equal(key, `switchyard:${epoch}:slow`, 'every run carries the move\'s idempotency key');
    if (what === 'start') { assert.equal(open, false, `a run of slow started while another ran: ${lines.join(' | ')}`); open = true; runs++; }
    else { assert.ok(what === 'end' || what === 'killed', l); assert.equal(open, true, `an ${what} without a start: ${lines.join(' | ')}`); open = false; }
  }
  return runs;
}

const storeReachable = (s: StatusDoc): boolean => coordinationOf(s).storeReachable;

/** The shared invariants, on samples that exist (an empty sample would make them vacuous). */
async function verify(t: { diagnostic(m: string): void }, d: Deployment, sampler: Sampler) {
  const history = await d.history();
  t.diagnostic(`invariants over ${history.length} committed states, ${sampler.dns.length} DNS answers, ${sampler.terms.length} reported terms`);
  assert.ok(sampler.dns.length >= 10, `DNS answers were sampled (${sampler.dns.length})`);
  assert.ok(sampler.terms.length >= 10, `/v1/status reports the leader's term (${sampler.terms.length} samples)`);
  checkInvariants(history, sampler);
}

describe('three instances on etcd, real partitions', { timeout: 600_000 }, () => {
  test('1. kill -9 the leader mid-move: another leads within TTL + retry, the move resumes, no step twice, PostgreSQL promoted once', async (t) => {
    const d = await three.deploy({ postgres: true, steps: [mark('first'), '    - switch-traffic', '    - postgres-fence', '    - postgres-promote: { maxLagBytes: 1048576 }', slow(3), mark('last')].join('\n') });
    t.after(() => d.stop());
    const first = await settled(d);
    const sampler = d.sample();
    try {
      await d.healthKill('a');
      await until('the slow step to start', async () => d.marks('slow').length > 0, 30_000, d.logs);
      const leader = (await d.leaderKey())!;
      assert.ok(leader.term >= first.term);
      const killedAt = performance.now();
      await d.instances[leader.name as SiteName]!.kill();
      const next = await until('a new leader', async () => { const l = await d.leaderKey(); return l && l.name !== leader.name ? l : null; }, 30_000, d.logs);
      const tookMs = performance.now() - killedAt;
      t.diagnostic(`leader ${leader.name} (term ${leader.term}) killed → ${next.name} leads (term ${next.term}) after ${Math.round(tookMs)} ms`);
      assert.ok(next.term > leader.term, `terms only increase (${leader.term} → ${next.term})`);
      assert.ok(tookMs <= timing.leaseDuration + timing.retryPeriod + SLACK, `a new leader within TTL + retry (${Math.round(tookMs)} ms)`);
      const done = await moved(d, 'b', 60_000);
      assertOnce(d, 'first', done.epoch);
      assertOnce(d, 'last', done.epoch);
      assert.ok(slowRuns(d, done.epoch) <= 2, 'the interrupted step ran again at most once');
      const promote = done.transition!.journal.filter((e) => e.step === 'postgres-promote' && e.phase === 'done');
      assert.equal(promote.length, 1, 'postgres-promote done once');
      const [rec] = await d.pg!.standby.query("SELECT pg_is_in_recovery() AS r, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl");
      assert.equal(rec.r, false, 'b\'s database is promoted');
      assert.equal(rec.tl, '00000002', 'promoted exactly once: one timeline switch');
      await d.start(leader.name as SiteName);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS);
    } finally {
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('2. one instance alone loses sight of the active: no failover; a quorum loses sight: exactly one failover', async (t) => {
    const d = await three.deploy({ steps: BASIC });
    t.after(() => d.stop());
    const { name: leader } = await settled(d);
    const sampler = d.sample();
    const blocked: SiteName[] = [];
    try {
      // The leader itself is the lone observer: the strongest case, its own view is not enough.
      three.block(leader, d.health.a.host, d.health.a.port);
      blocked.push(leader);
      await until(`${leader} to see a down`, async () => {
        const s = await d.status(leader);
        return (s.clusters as Array<{ name: string; healthy: boolean | null }>).find((c) => c.name === 'a')?.healthy === false;
      }, 15_000, d.logs);
      await nothingMoves(d, QUIET_MS, SITES);

      const second = SITES.find((n) => n !== leader && n !== 'a') ?? SITES.find((n) => n !== leader)!;
      three.block(second, d.health.a.host, d.health.a.port);
      blocked.push(second);
      const done = await moved(d, 'b', 30_000);
      assert.equal(done.epoch, 1, 'one move');
      assertOnce(d, 'first', 1);
      assertOnce(d, 'last', 1);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS);
      await delay(2000);
      assert.equal((await lastState(d)).epoch, 1, 'no second move');
    } finally {
      for (const n of blocked) three.unblock(n, d.health.a.host, d.health.a.port);
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('3. SIGSTOP the leader past its lease, then SIGCONT: it runs nothing, its writes are refused; the new leader\'s move completes', async (t) => {
    const d = await three.deploy({ steps: WITH_SLOW(3) });
    t.after(() => d.stop());
    await settled(d);
    const sampler = d.sample();
    let paused: SwitchyardProcess | undefined;
    try {
      await d.healthKill('a');
      await until('the slow step to start', async () => d.marks('slow').length > 0, 30_000, d.logs);
      const first = (await d.leaderKey())!;
      paused = d.instances[first.name as SiteName]!;
      paused.child.kill('SIGSTOP');
      const next = await until('a new leader', async () => { const l = await d.leaderKey(); return l && l.name !== first.name ? l : null; }, timing.leaseDuration + timing.retryPeriod + SLACK + 10_000, d.logs);
      assert.ok(next.term > first.term, 'terms only increase');
      const done = await moved(d, 'b', 60_000);
      const before = { last: d.marks('last').length, slow: d.marks('slow').length, generation: done.generation };
      paused.child.kill('SIGCONT');
      // The paused leader's own slow run ended while it was stopped; on resume it must journal nothing and run nothing.
      await delay(QUIET_MS);
      assertOnce(d, 'first', done.epoch);
      assertOnce(d, 'last', done.epoch);
      assert.equal(d.marks('slow').length, before.slow, 'the resumed old leader started no step');
      assert.ok(slowRuns(d, done.epoch) <= 2);
      const h = await d.history();
      assert.equal(h[h.length - 1].generation, before.generation, 'nothing was committed after the move completed (the old leader\'s writes were refused)');
      // Every journal entry added after the new leader's term began carries the new term.
      for (let i = 1; i < h.length; i++) {
        if (h[i].modRevision <= next.term) continue;
        const added = (h[i].transition?.journal ?? []).slice(h[i - 1].transition?.epoch === h[i].transition?.epoch ? h[i - 1].transition!.journal.length : 0);
        for (const e of added) assert.equal((e as { term?: number }).term, next.term, `entry ${e.step}:${e.phase} of generation ${h[i].generation} carries the new leader's term`);
      }
      const c = coordinationOf(await d.status(first.name as SiteName));
      assert.equal(c.leading, false, 'the resumed instance does not act as leader');
      assert.equal(c.leader?.name, next.name, `it follows ${next.name}`);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS);
    } finally {
      paused?.child.kill('SIGCONT');
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('4. the active\'s site is cut off: the majority fails over once; the isolated instance answers its last state with a short TTL, cannot commit, converges after healing', async (t) => {
    const d = await three.deploy({ steps: BASIC });
    t.after(() => d.stop());
    await settled(d);
    const sampler = d.sample();
    let cut = false;
    try {
      three.cut('a');
      cut = true;
      const done = await moved(d, 'b', 30_000);
      assert.equal(done.epoch, 1);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS, ['b', 'w']);
      await until('the isolated instance to say the store is unreachable', async () => storeReachable(await d.status('a')) === false, 20_000, d.logs);
      const isolated = await d.dig('a');
      assert.deepEqual(isolated.addresses, [CLUSTER_ADDRESS.a], 'the isolated instance keeps answering its last committed state');
      assert.ok(isolated.ttl !== null && isolated.ttl < ZONE_TTL, `with the shortened TTL (${isolated.ttl} s < ${ZONE_TTL} s)`);
      const s = await d.status('a');
      assert.equal(s.generation < done.generation, true, 'it has not seen (nor made) the majority\'s commits');
      assert.equal(coordinationOf(s).leading, false, 'the isolated instance does not lead');
      const before = (await d.history()).length;
      const refused = await d.failover('a', { to: 'b', reason: 'isolated instance test' });
      assert.notEqual(refused.status, 200, `the isolated instance cannot move traffic: ${refused.text}`);
      assert.equal((await d.history()).length, before, 'nothing was committed through the isolated instance');
      three.heal('a');
      cut = false;
      await awaitConvergence(d, () => d.history(), CONVERGE_MS + 10_000);
      assertOnce(d, 'first', 1);
      assertOnce(d, 'last', 1);
      assert.equal((await lastState(d)).epoch, 1, 'exactly one move');
    } finally {
      if (cut) three.heal('a');
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('5. the witness is cut off: nothing moves; A and B lose each other but reach W: nothing moves until the quorum says a is down', async (t) => {
    const d = await three.deploy({ steps: BASIC });
    t.after(() => d.stop());
    await settled(d);
    const sampler = d.sample();
    const blocks: Array<[SiteName, string, number]> = [];
    let cut = false;
    try {
      three.cut('w');
      cut = true;
      await nothingMoves(d, QUIET_MS, ['a', 'b']);
      three.heal('w');
      cut = false;
      await settled(d);

      // A and B cannot reach each other (etcd peers, etcd clients, probes); both reach W.
      const { a, b, w } = three.sites;
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (const port of allPorts(d, to.name)) { three.block(from.name, to.site.address, port); blocks.push([from.name, to.site.address, port]); }
      }
      await until('b to see a down', async () => (await d.status('b')).clusters && ((await d.status('b')).clusters as Array<{ name: string; healthy: boolean | null }>).find((c) => c.name === 'a')?.healthy === false, 15_000, d.logs);
      await nothingMoves(d, QUIET_MS, ['a', 'b', 'w']);

      // Now the witness loses sight of a too: b and w are a quorum (that a and b cannot see each
      // other's health endpoints must not matter: the quorum judges the target too).
      t.diagnostic(`leader when the quorum sees a down: ${JSON.stringify(await d.leaderKey())}`);
      three.block(w.name, d.health.a.host, d.health.a.port);
      blocks.push([w.name, d.health.a.host, d.health.a.port]);
      const done = await moved(d, 'b', 30_000);
      assert.equal(done.epoch, 1);
      for (const [from, host, port] of blocks.splice(0)) three.unblock(from, host, port);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS + 10_000);
      assertOnce(d, 'first', 1);
      assertOnce(d, 'last', 1);
    } finally {
      if (cut) three.heal('w');
      for (const [from, host, port] of blocks) three.unblock(from, host, port);
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('6. all of etcd down: every instance keeps answering, no decision, status and metrics say why; etcd back: service resumes without a restart', async (t) => {
    const d = await three.deploy({ steps: BASIC });
    t.after(() => d.stop());
    await settled(d);
    const sampler = d.sample();
    let down = false;
    try {
      await Promise.all(three.etcd.members.map((m) => m.stop('SIGKILL')));
      down = true;
      for (const n of SITES) {
        await until(`${n} to say the store is unreachable`, async () => storeReachable(await d.status(n)) === false, 20_000, d.logs);
        const s = await d.status(n);
        assert.ok((s.attention as Array<{ kind: string }>).some((a) => a.kind === 'store'), `${n}'s status asks for attention to the store: ${JSON.stringify(s.attention)}`);
        const m = await d.metrics(n);
        assert.match(m, /^switchyard_\w*store\w*reachable\w* 0$/m, `${n}'s metrics say the store is unreachable`);
      }
      await d.healthKill('a');
      await until('every instance to see a down', async () => {
        for (const n of SITES) if ((((await d.status(n)).clusters) as Array<{ name: string; healthy: boolean | null }>).find((c) => c.name === 'a')?.healthy !== false) return false;
        return true;
      }, 15_000, d.logs);
      const quietUntil = Date.now() + QUIET_MS;
      while (Date.now() < quietUntil) {
        for (const n of SITES) {
          const a = await d.dig(n);
          assert.deepEqual(a.addresses, [CLUSTER_ADDRESS.a], `${n} keeps answering the last committed state`);
          const s = await d.status(n);
          assert.equal(s.active, 'a');
          assert.equal(s.epoch, 0, `${n} decides nothing alone`);
        }
        await delay(250);
      }
      await Promise.all(three.etcd.members.map((m) => m.start()));
      down = false;
      const done = await moved(d, 'b', 40_000);
      assert.equal(done.epoch, 1);
      await awaitConvergence(d, () => d.history(), CONVERGE_MS);
      for (const n of SITES) assert.equal(storeReachable(await d.status(n)), true, `${n} reaches the store again`);
      assertOnce(d, 'first', 1);
      assertOnce(d, 'last', 1);
    } finally {
      if (down) await Promise.all(three.etcd.members.map((m) => m.start())).catch(() => undefined);
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });

  test('7. the etcd leader is killed and restarted during a move: the move completes once', async (t) => {
    const d = await three.deploy({ steps: WITH_SLOW(4) });
    t.after(() => d.stop());
    await settled(d);
    const sampler = d.sample();
    let stopped: number | null = null;
    try {
      const raftLeader = await etcdLeader();
      await d.healthKill('a');
      await until('the slow step to start', async () => d.marks('slow').length > 0, 30_000, d.logs);
      stopped = raftLeader;
      await three.etcd.members[raftLeader].stop('SIGKILL');
      await delay(2000);
      await three.etcd.members[raftLeader].start();
      stopped = null;
      const done = await moved(d, 'b', 60_000);
      assertOnce(d, 'first', done.epoch);
      assertOnce(d, 'last', done.epoch);
      assert.ok(slowRuns(d, done.epoch) <= 2);
      assert.equal(done.transition!.journal.filter((e) => e.step === 'switch-traffic' && e.phase === 'done').length, 1, 'traffic switched once');
      await awaitConvergence(d, () => d.history(), CONVERGE_MS);
    } finally {
      if (stopped !== null) await three.etcd.members[stopped].start().catch(() => undefined);
      await sampler.stop();
    }
    await verify(t, d, sampler);
  });
});

/** The raft leader's index, asked through each site's agent (the members live inside the namespaces). */
async function etcdLeader(): Promise<number> {
  for (const [i, n] of SITES.entries()) {
    const s = three.sites[n];
    try {
      const r = await s.agent.call<{ status: number; text: string }>({ op: 'http', method: 'POST', url: `${s.endpoints[0]}/v3/maintenance/status`, body: '{}', timeoutMs: 2000 });
      const body = JSON.parse(r.text) as { header?: { member_id?: string }; leader?: string };
      if (body.leader && body.leader === body.header?.member_id) return i;
    } catch { /* ask the next */ }
  }
  throw new Error('no etcd member says it leads');
}

/** Every port of a site that the other sites use: its etcd member's client and peer ports and its cluster's health endpoint. */
function allPorts(d: Deployment, site: SiteName): number[] {
  const i = SITES.indexOf(site);
  const m = three.etcd.members[i];
  const ports = [Number(new URL(m.clientUrl).port), Number(new URL(m.peerUrl).port)];
  if (site === 'a' || site === 'b') ports.push(d.health[site].port);
  return ports;
}

