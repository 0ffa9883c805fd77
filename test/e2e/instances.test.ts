// Three real `switchyard serve` processes on one real 3-member etcd cluster (loopback): one
// leads, the others follow; every instance answers DNS (dig) from the state the leader
// committed; status reports the leader, its term, each instance's observation and whether the
// store is reachable; a follower refuses a manual move naming the leader; with all of etcd down
// every instance keeps answering its last committed state with the shortened TTL, and when etcd
// is back they resume without a restart. A second trio, each instance probing east through its
// own endpoint, shows the quorum: one instance losing sight of east (the leader itself, then a
// follower) moves nothing; two do (even with the leader still seeing it up), exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { dig } from '../support/dig.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { runCli, startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';
import { createEtcdClient, type EtcdClient } from '../../src/routing/etcd-client.ts';
import { launchChromium, screenshotPath } from '../support/browser.ts';

const TTL = 30;
const SHORT_TTL = Math.ceil(TTL / 6);
const NAMES = ['edge-a', 'edge-b', 'edge-c'];
const PREFIX = `/swy-instances/${process.pid}`;

let etcd: EtcdCluster;
let kv: EtcdClient;
let east: HealthEndpoint;
let west: HealthEndpoint;
const instances: SwitchyardProcess[] = [];

const config = (name: string, endpoints: string[], o: { prefix?: string; eastUrl?: string } = {}) => `
zone: { name: example.com, ttl: ${TTL}, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "${o.eastUrl ?? east.url}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "${west.url}" } }] }
health: { interval: 500ms, timeout: 400ms, fall: 3, rise: 1 }
failover: { cooldown: 0s, instances: 3 }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { etcd: { endpoints: [${endpoints.map((e) => `"${e}"`).join(', ')}], prefix: ${o.prefix ?? PREFIX}, leaseTtl: 3s } }
instance: { name: ${name} }
log: { level: info }
`;

type Status = Record<string, any>;
const status = async (p: SwitchyardProcess): Promise<Status> => (await fetch(`${p.adminUrl}/v1/status`, { signal: AbortSignal.timeout(3000) })).json() as Promise<Status>;

/** Polls until `check` returns a value (not undefined), bounded; the last failure is in the error. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last instanceof Error ? last.message : String(last ?? '')})\n${instances.map((p) => p.logs().split('\n').slice(-30).join('\n')).join('\n---\n')}`);
    await delay(100);
  }
}

/** The A answer of app.example.com from one instance: address and TTL. */
async function answer(p: SwitchyardProcess): Promise<{ address: string; ttl: number } | undefined> {
  const r = await dig(p.dnsPort, ['app.example.com', 'A', '+norec']);
  const line = r.answers[0];
  if (r.status !== 'NOERROR' || !r.flags.includes('aa') || line === undefined) return undefined;
  const f = line.split(' ');
  return { address: f[4], ttl: Number(f[1]) };
}

const leaderKey = async (prefix = PREFIX) => (await kv.read(`${prefix}/leader`)).kvs[0];
const stored = async (prefix = PREFIX) => JSON.parse((await kv.read(`${prefix}/state`)).kvs[0].value) as Record<string, any>;
const post = (p: SwitchyardProcess, path: string, body: unknown) => fetch(`${p.adminUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });

before(async () => {
  etcd = await startEtcdCluster();
  kv = createEtcdClient({ endpoints: etcd.endpoints });
  east = await startHealthEndpoint('127.0.0.2');
  west = await startHealthEndpoint('127.0.0.3');
  // Each instance prefers a different etcd member, as one per site would.
  const started = await Promise.all(NAMES.map((name, i) => startSwitchyard({
    config: config(name, [...etcd.endpoints.slice(i), ...etcd.endpoints.slice(0, i)]),
    readyTimeoutMs: 40_000,
  })));
  instances.push(...started);
});

after(async () => {
  await Promise.allSettled(instances.map((p) => p.stop()));
  await kv?.close();
  await Promise.allSettled([east?.kill(), west?.kill()]);
  await etcd?.stop();
});

test('one instance leads; all answer the committed state; a move committed by the leader reaches every instance', { timeout: 120_000 }, async () => {
  const key = await until('a leader key', async () => leaderKey());
  assert.ok(NAMES.includes(key.value), `the leader key names an instance: ${key.value}`);
  assert.equal((await stored()).active, 'east');
  for (const p of instances) {
    const a = await until('an answer', () => answer(p));
    assert.deepEqual(a, { address: '127.0.0.2', ttl: TTL }, 'every instance answers the committed state with the zone TTL');
  }

  const leader = instances[NAMES.indexOf(key.value)];
  // Status on every instance: its name, the one leader and its term, the store reachable, a fresh observation of each instance.
  for (const [i, p] of instances.entries()) {
    const s = await until(`${NAMES[i]}: three fresh observations`, async () => { const v = await status(p); return v.coordination?.observations.length === 3 && v.coordination.observations.every((o: Status) => o.fresh && o.verdicts.east === true) ? v : undefined; });
    assert.equal(s.instance, NAMES[i]);
    assert.deepEqual(s.coordination.leader, { name: key.value, term: key.createRevision });
    assert.equal(s.coordination.leading, p === leader);
    assert.equal(s.coordination.term, p === leader ? key.createRevision : null);
    assert.equal(s.coordination.storeReachable, true);
    assert.equal(s.store.ok, true);
    assert.equal(s.coordination.answerTtl, TTL);
    assert.deepEqual(s.coordination.observations.map((o: Status) => o.instance), NAMES);
    for (const o of s.coordination.observations) assert.ok(o.ageSeconds >= 0 && o.ageSeconds < 1.5 * 3, `observation age ${o.ageSeconds} s`);
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`^switchyard_failover_leader ${p === leader ? 1 : 0}$`, 'm'));
    assert.match(metrics, new RegExp(`^switchyard_failover_term ${key.createRevision}$`, 'm'));
    assert.match(metrics, /^switchyard_routing_store_reachable 1$/m);
    for (const n of NAMES) assert.match(metrics, new RegExp(`^switchyard_failover_observation_age_seconds\\{observer="${n}"\\} [0-9.e-]+$`, 'm'));
  }
  // A follower refuses a manual move (and its dry run), naming the leader; nothing is written.
  const generation = (await stored()).generation;
  for (const follower of instances.filter((p) => p !== leader)) {
    for (const body of [{ to: 'west', reason: 'from a follower' }, { to: 'west', reason: 'dry', dryRun: true }]) {
      const refused = await post(follower, '/v1/failover', body);
      assert.equal(refused.status, 503);
      const e = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(e.error.code, 'SWY_STORE_NOT_LEADER');
      assert.match(e.error.message, new RegExp(`${key.value} leads \\(term ${key.createRevision}\\)`));
    }
  }
  // The same through the command line: exit 1 (HTTP 503), the code and the leader named.
  const follower = instances.find((p) => p !== leader)!;
  const cli = await runCli(['failover', '--to', 'west', '--yes', '--admin', follower.adminUrl]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, new RegExp(`SWY_STORE_NOT_LEADER: .*${key.value} leads \\(term ${key.createRevision}\\).*\\(HTTP 503\\)`));
  assert.equal((await stored()).generation, generation, 'a follower wrote nothing');

  const res = await post(leader, '/v1/failover', { to: 'west', reason: 'instances test' });
  assert.equal(res.status, 200, await res.clone().text());
  for (const p of instances) {
    await until(`${p.adminUrl} answers west`, async () => ((await answer(p))?.address === '127.0.0.3' ? true : undefined));
  }
  const committed = await stored();
  assert.equal(committed.active, 'west');
  assert.equal(committed.transition.term, key.createRevision, 'the move carries the leader\'s term');
  for (const e of committed.transition.journal) assert.equal(e.term, key.createRevision, `${e.step} ${e.phase} carries the term`);
  for (const p of instances) {
    const s = await until('the committed generation', async () => { const v = await status(p); return v.generation === committed.generation ? v : undefined; });
    assert.equal(s.active, 'west');
  }
  assert.equal((await leaderKey()).createRevision, key.createRevision, 'the same leader and term throughout');
});

test('the status page of each instance shows the leader, its term, the store and every observation; a follower shows the leader instead of buttons', { timeout: 120_000 }, async () => {
  const key = await until('a leader key', async () => leaderKey());
  const browser = await launchChromium();
  try {
    for (const [i, p] of instances.slice(0, 3).entries()) {
      const page = await browser.newPage();
      await page.goto(`${p.adminUrl}/`);
      await page.waitForSelector('#coordination', { timeout: 15_000 });
      assert.equal(await page.textContent('#leader'), key.value);
      const line = (await page.textContent('#coordination')) ?? '';
      assert.match(line, new RegExp(`This instance: ${NAMES[i]}`));
      assert.match(line, new RegExp(`\\(term ${key.createRevision}\\)`));
      assert.match(line, /store: reachable/);
      assert.match(line, new RegExp(`DNS TTL ${TTL} s · quorum 2 of 3`));
      await page.waitForFunction('document.querySelectorAll("table.observations tr[data-instance]").length === 3', undefined, { timeout: 10_000 });
      const follower = NAMES[i] !== key.value;
      assert.equal(await page.locator('#follower').count(), follower ? 1 : 0);
      if (follower) assert.match((await page.textContent('#follower')) ?? '', new RegExp(`${key.value}`));
      else assert.ok(await page.locator('#actions button').count() > 0, 'the leader has its buttons');
      await page.screenshot({ path: screenshotPath(`instances-${NAMES[i]}`), fullPage: true });
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test('all of etcd down: every instance keeps answering its last committed state with the shortened TTL; etcd back: the normal TTL, no restart', { timeout: 120_000 }, async () => {
  const before = await Promise.all(instances.map(async (p) => until('an answer', () => answer(p))));
  const address = before[0].address;
  for (const a of before) assert.deepEqual(a, { address, ttl: TTL });
  await Promise.all(etcd.members.map((m) => m.stop()));
  for (const p of instances) {
    const a = await until(`${p.adminUrl} shortens its TTL`, async () => { const v = await answer(p); return v?.ttl === SHORT_TTL ? v : undefined; });
    assert.equal(a.address, address, 'the last committed state is still answered');
    assert.equal((await fetch(`${p.adminUrl}/readyz`)).status, 200, 'still ready while it can answer');
    const s = await status(p);
    assert.equal(s.coordination.storeReachable, false);
    assert.equal(s.coordination.answerTtl, SHORT_TTL);
    assert.equal(s.store.ok, false);
    assert.equal(s.store.error.code, 'SWY_STORE_UNAVAILABLE');
    assert.ok(s.attention.some((a: Status) => a.kind === 'store' && a.code === 'SWY_STORE_UNAVAILABLE'), JSON.stringify(s.attention));
    // The leader acts until its last acknowledged keep-alive + renewDeadline (2 s of a 3 s lease), then stops on its own clock.
    await until(`${p.adminUrl} does not lead without the store`, async () => ((await status(p)).coordination.leading === false ? true : undefined), 6000);
    assert.match(await (await fetch(`${p.adminUrl}/metrics`)).text(), /^switchyard_routing_store_reachable 0$/m);
  }
  await Promise.all(etcd.members.map((m) => m.start()));
  await etcd.waitHealthy(30_000);
  for (const p of instances) {
    const a = await until(`${p.adminUrl} back to the zone TTL`, async () => { const v = await answer(p); return v?.ttl === TTL ? v : undefined; }, 40_000);
    assert.equal(a.address, address);
    assert.equal(p.child.exitCode, null, 'not restarted');
    const s = await status(p);
    assert.equal(s.coordination.storeReachable, true);
    assert.equal(s.store.ok, true);
  }
  await until('a leader again', async () => leaderKey(), 30_000);
});

test('kill -9 of the leader: another instance leads within the lease TTL with a higher term, and its moves reach every survivor', { timeout: 120_000 }, async (t) => {
  const old = await until('a leader key', async () => leaderKey());
  const dead = instances[NAMES.indexOf(old.value)];
  const survivors = instances.slice(0, 3).filter((p) => p !== dead);
  const killedAt = Date.now();
  await dead.kill();
  const next = await until('a new leader', async () => { const k = await leaderKey(); return k && k.value !== old.value ? k : undefined; }, 30_000);
  const tookMs = Date.now() - killedAt;
  t.diagnostic(`new leader ${next.value} (term ${next.createRevision}) ${tookMs} ms after kill -9 of ${old.value} (term ${old.createRevision}); leaseTtl 3 s`);
  assert.ok(next.createRevision > old.createRevision, `terms only increase: ${old.createRevision} → ${next.createRevision}`);
  // leaseTtl (3 s) + a retry period, with room for a loaded machine.
  assert.ok(tookMs < 3000 + 400 + 4000, `new leader after ${tookMs} ms`);
  for (const p of survivors) {
    await until('the new leader in status', async () => { const v = await status(p); return v.coordination.leader?.name === next.value && v.coordination.leader.term === next.createRevision ? true : undefined; });
  }
  const leader = survivors.find((p) => NAMES[instances.indexOf(p)] === next.value)!;
  const before = (await stored()).active;
  const to = before === 'east' ? 'west' : 'east';
  const res = await post(leader, '/v1/failover', { to, reason: 'after the old leader died', force: true });
  assert.equal(res.status, 200, await res.clone().text());
  for (const p of survivors) await until(`${p.adminUrl} answers ${to}`, async () => ((await answer(p))?.address === (to === 'east' ? '127.0.0.2' : '127.0.0.3') ? true : undefined));
  const s = await stored();
  assert.equal(s.transition.term, next.createRevision);
});

test('quorum: the leader alone, then one follower alone, losing sight of east move nothing; two followers do, and the failover happens once though the leader sees east up', { timeout: 120_000 }, async () => {
  const prefix = `${PREFIX}-quorum`;
  const views = await Promise.all(NAMES.map(() => startHealthEndpoint('127.0.0.2')));
  const trio: SwitchyardProcess[] = [];
  try {
    trio.push(...await Promise.all(NAMES.map((name, i) => startSwitchyard({
      config: config(name, [...etcd.endpoints.slice(i), ...etcd.endpoints.slice(0, i)], { prefix, eastUrl: views[i].url }),
      readyTimeoutMs: 40_000,
    }))));
    instances.push(...trio);
    const key = await until('a leader key', async () => leaderKey(prefix));
    const li = NAMES.indexOf(key.value);
    const leader = trio[li];
    await until('three fresh observations of a healthy east', async () => {
      const v = await status(leader);
      return v.coordination?.observations.length === 3 && v.coordination.observations.every((o: Status) => o.fresh && o.verdicts.east === true) ? true : undefined;
    });

    // The leader's own view: east down. One of three observers is not a quorum of two.
    views[li].mode = 'fail';
    const held = await until('the leader waits for the quorum', async () => { const v = await status(leader); return v.state === 'suspect' && /without a quorum: 1\/2 fresh observers see east down/.test(v.reason) ? v : undefined; });
    assert.match(held.reason, new RegExp(`agree: ${key.value}; disagree: `));
    await delay(3000);
    const still = await stored(prefix);
    assert.equal(still.active, 'east', 'nothing moved on one observer\'s view');
    assert.equal(still.epoch, 0);
    for (const p of trio) assert.equal((await answer(p))?.address, '127.0.0.2');

    // The leader sees east again; one follower loses sight of it: still one observer of three.
    // The follower fails only once the leader's own observation is healthy again (rise takes a
    // few rounds): before that the leader and the follower together are a real quorum of two.
    views[li].mode = 'ok';
    const [f1, f2] = [(li + 1) % 3, (li + 2) % 3];
    await until('the leader\'s own observation sees east up again', async () => {
      const v = await status(leader);
      return v.coordination.observations.find((o: Status) => o.instance === NAMES[li])?.verdicts.east === true && v.state === 'steady' ? true : undefined;
    });
    views[f1].mode = 'fail';
    await until('the follower\'s observation of east down reaches the leader', async () => {
      const v = await status(leader);
      return v.coordination.observations.find((o: Status) => o.instance === NAMES[f1])?.verdicts.east === false && v.state === 'steady' ? true : undefined;
    });
    await delay(3000);
    assert.equal((await stored(prefix)).epoch, 0, 'nothing moved on one follower\'s view');

    // The second follower loses sight of east too: a quorum of two sees it down while the leader's
    // own probes pass; the decision is the quorum's, and the failover happens once.
    views[f2].mode = 'fail';
    for (const p of trio) await until(`${p.adminUrl} answers west`, async () => ((await answer(p))?.address === '127.0.0.3' ? true : undefined), 30_000);
    const moved = await until('the move completed', async () => { const v = await stored(prefix); return v.state === 'failed-over' ? v : undefined; }, 30_000);
    assert.equal(moved.epoch, 1, 'exactly one move');
    assert.equal(moved.transition.kind, 'failover');
    assert.equal(moved.transition.term, key.createRevision);
    assert.equal(moved.transition.journal.filter((e: Status) => e.step === 'switch-traffic' && e.phase === 'done').length, 1, 'traffic switched once');
    await delay(2000);
    assert.equal((await stored(prefix)).epoch, 1, 'still one move');
  } finally {
    await Promise.allSettled(trio.map((p) => p.stop()));
    await Promise.allSettled(views.map((v) => v.kill()));
  }
});
