// Observations on a real 3-member etcd: three instances publish their verdicts under their
// own leases; the leader's view feeds the pure quorum. One observer alone seeing the active down
// is not enough; two are; an observer that stops publishing goes stale on the LEADER's clock even
// though its own timestamp claims to be new; an instance whose lease ends loses its vote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { createEtcdClient, type EtcdClient } from '../../src/routing/etcd-client.ts';
import { createLeaseSession, type LeaseSession } from '../../src/routing/lease-session.ts';
import { createObservations, type Observations } from '../../src/failover/observations.ts';
import { quorumDecision } from '../../src/failover/quorum.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';

const logger = pino({ level: 'silent' });
let etcd: EtcdCluster;
const stops: (() => Promise<void>)[] = [];

before(async () => { etcd = await startEtcdCluster(); });
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
  await etcd?.stop();
});

interface Instance { name: string; client: EtcdClient; session: LeaseSession; obs: Observations; verdicts: Record<string, boolean | null> }

async function instance(name: string, prefix: string, opts: { publishEvery: number; wallClock?: () => Date }): Promise<Instance> {
  const client = createEtcdClient({ endpoints: etcd.endpoints });
  const session = createLeaseSession({ ttlSeconds: 2, keepAliveEvery: 250 }, { store: client, logger });
  const verdicts: Record<string, boolean | null> = { east: true, west: true };
  const obs = createObservations({ prefix, instance: name, publishEvery: opts.publishEvery }, { store: client, session, logger, verdicts: () => verdicts, wallClock: opts.wallClock });
  session.start();
  for (let i = 0; i < 200 && session.id() === null; i++) await delay(20);
  assert.ok(session.id(), `${name} got a lease`);
  await obs.start();
  stops.push(async () => { await obs.stop(); await session.stop(); await client.close(); });
  return { name, client, session, obs, verdicts };
}

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

test('quorum over published observations, with freshness on the leader\'s clock', async () => {
  const prefix = `/swy-obs/${process.pid}`;
  const maxAge = 1500;
  const a = await instance('a', prefix, { publishEvery: 300 });
  const b = await instance('b', prefix, { publishEvery: 300 });
  // c's clock runs a day ahead: its timestamps would always look fresh if they were trusted.
  const c = await instance('c', prefix, { publishEvery: 300, wallClock: () => new Date(Date.now() + 86_400_000) });
  const decide = () => quorumDecision({ observations: a.obs.seen(), now: performance.now(), maxAge, quorum: 2, active: 'east', target: 'west' });

  await until('all three observations at a', () => a.obs.seen().length === 3);
  assert.equal(decide().allowed, false, 'everyone sees east up');
  // onChange: told when verdicts change, not on every republication.
  const told: string[] = [];
  const off = a.obs.onChange((name) => told.push(name));
  await delay(700);
  assert.deepEqual(told, [], 'republishing the same verdicts is no change');

  b.verdicts.east = false;
  b.obs.publish();
  await until('b\'s change at a', () => a.obs.seen().find((o) => o.instance === 'b')?.verdicts.east === false);
  assert.deepEqual(told, ['b'], 'b\'s new verdicts are a change');
  off();
  await delay(700);
  const alone = decide();
  assert.equal(alone.allowed, false, `one observer alone: ${alone.reason}`);
  assert.deepEqual(alone.agreeing, ['b']);

  c.verdicts.east = false;
  c.obs.publish();
  await until('c\'s change at a', () => a.obs.seen().find((o) => o.instance === 'c')?.verdicts.east === false);
  const two = decide();
  assert.equal(two.allowed, true, two.reason);
  assert.deepEqual(two.agreeing.sort(), ['b', 'c']);

  // c stops publishing (a stuck process) but keeps its lease: its last word goes stale at a.
  await c.obs.stop();
  await delay(maxAge + 700);
  const stale = decide();
  assert.equal(stale.allowed, false, stale.reason);
  assert.deepEqual(stale.stale, ['c']);
  assert.ok(new Date(a.obs.seen().find((o) => o.instance === 'c')!.observation.at).getTime() > Date.now(), 'c\'s own timestamp still claims to be new');

  // c's lease ends: its observation is deleted with it.
  await c.session.stop();
  await until('c\'s observation to vanish at a', () => !a.obs.seen().some((o) => o.instance === 'c'));
  assert.deepEqual(a.obs.seen().map((o) => o.instance).sort(), ['a', 'b']);
});
