// The controller's gating for several instances, with fakes of the leader election and the
// quorum (the real ones run against real etcd in test/e2e/instances.test.ts): a follower decides,
// runs and resumes nothing; an automatic failover needs the quorum; losing leadership aborts the
// running step without journaling it failed and the next leader resumes it; a write refused for
// not leading stops the run at once; a conflict re-reads the store; a follower refuses manual
// moves naming the leader; journal entries and transitions carry the term.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { parseConfig, type StepConfig } from '../../../src/config/index.ts';
import { createFailoverController, type FailoverLeadership } from '../../../src/failover/controller.ts';
import type { Step, StepContext } from '../../../src/failover/step.ts';
import { createFileStore, createRouting, type RoutingState, type StateStore } from '../../../src/routing/index.ts';
import type { ClusterHealth, HealthSource } from '../../../src/health/types.ts';
import { SwitchyardError, isSwitchyardError } from '../../../src/errors.ts';

const logger = pino({ level: 'silent' });

const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
failover:
  cooldown: 0s
  steps:
    - exec: { name: scale, command: [x], retries: 0, onFailure: hold }
    - switch-traffic
    - exec: { name: promote, command: [x], retries: 2, onFailure: hold }
`, {}, '/');

function fakeHealth(initial: Record<string, boolean | null>) {
  const verdicts = { ...initial };
  const subs = new Set<(c: ClusterHealth) => void>();
  const view = (name: string): ClusterHealth => ({ name, healthy: verdicts[name], probes: [{ name: 'p', ok: verdicts[name], latencyMs: 1, error: null, checkedAt: null }], since: null });
  const source: HealthSource & { set(name: string, v: boolean): void } = {
    clusters: () => Object.keys(verdicts).map(view),
    subscribe(fn) { subs.add(fn); return () => subs.delete(fn); },
    reportPassiveFailure() {},
    set(name, v) { verdicts[name] = v; for (const fn of subs) fn(view(name)); },
  };
  return source;
}

/** A leader election whose term the test sets; `lead`/`lose` also tell the subscribers, `silently` does not (the clock ran out). */
function fakeLeadership(term: number | null, leader: { name: string; term: number } | null = null) {
  let current = term;
  let seen = leader;
  const fns = new Set<(c: { leading: boolean; term: number | null }) => void>();
  const l: FailoverLeadership & { lead(t: number): void; lose(): void; silently(t: number | null): void } = {
    term: () => current,
    leader: () => seen,
    onChange(fn) { fns.add(fn); return () => { fns.delete(fn); }; },
    lead(t) { current = t; seen = { name: 'me', term: t }; for (const fn of fns) fn({ leading: true, term: t }); },
    lose() { current = null; for (const fn of fns) fn({ leading: false, term: null }); },
    silently(t) { current = t; },
  };
  return l;
}

type Behaviour = (ctx: StepContext) => Promise<unknown>;
function steps(calls: string[], behaviour: Map<string, Behaviour>) {
  return (c: Exclude<StepConfig, { type: 'switch-traffic' }>): Step => ({
    config: c,
    run: async (ctx) => {
      calls.push(`${c.name}#${ctx.attempt}`);
      const b = behaviour.get(c.name);
      return (b ? await b(ctx) : { detail: `${c.name} ok` }) as { detail?: string };
    },
  });
}

/** A file store whose next saves can be made to fail with a code (as the etcd store's guard or compare would). */
function failingStore(file: string) {
  const inner = createFileStore({ file });
  const failNext: string[] = [];
  const store: StateStore & { failNext: string[] } = {
    description: inner.description,
    load: () => inner.load(),
    async save(next: RoutingState, expected: number) {
      const code = failNext.shift();
      if (code) throw new SwitchyardError(code as 'SWY_STORE_NOT_LEADER', `refused (${code})`);
      await inner.save(next, expected);
    },
    failNext,
  };
  return store;
}

async function setup(opts: { term: number | null; leader?: { name: string; term: number }; quorum?: (a: string, t: string) => { allowed: boolean; reason: string }; behaviour?: Map<string, Behaviour> }) {
  const file = join(mkdtempSync(join(tmpdir(), 'swy-lead-')), 'state.json');
  const store = failingStore(file);
  const routing = await createRouting({ store, clusters: ['east', 'west'] });
  const health = fakeHealth({ east: true, west: true });
  const leadership = fakeLeadership(opts.term, opts.leader ?? null);
  const calls: string[] = [];
  let reloads = 0;
  const controller = createFailoverController({ config, instance: 'edge-b' }, {
    routing, health, createStep: steps(calls, opts.behaviour ?? new Map()), logger, registry: new Registry(), sleep: async () => {},
    leadership, quorum: opts.quorum, reload: async () => { reloads++; },
  });
  return { routing, health, leadership, calls, controller, store, reloads: () => reloads };
}

const until = async (what: string, cond: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a follower decides and runs nothing; once it leads it fails over, and every entry and the transition carry its term', async () => {
  const { routing, health, leadership, calls, controller } = await setup({ term: null, leader: { name: 'edge-a', term: 5 } });
  controller.start();
  health.set('east', false);
  await controller.evaluate();
  await controller.idle();
  assert.equal(routing.state().state, 'steady', 'a follower commits nothing, not even suspect');
  assert.equal(routing.state().generation, 1);
  assert.deepEqual(calls, []);

  leadership.lead(7);
  await until('the failover', () => routing.state().state === 'failed-over');
  await controller.idle();
  const t = routing.state().transition!;
  assert.equal(routing.state().active, 'west');
  assert.equal(t.term, 7);
  assert.ok(t.journal.length >= 6);
  for (const e of t.journal) assert.equal(e.term, 7, `${e.step} ${e.phase} carries the term`);
  assert.deepEqual(calls, ['scale#1', 'promote#1']);
  await controller.stop();
});

test('an automatic failover needs the quorum: without it the state is suspect with the quorum\'s reason and nothing moves', async () => {
  let allowed = false;
  const asked: string[] = [];
  const { routing, health, calls, controller } = await setup({ term: 3, quorum: (a, t) => { asked.push(`${a}->${t}`); return { allowed, reason: allowed ? '2/2 agree' : '1/2 fresh observers see east down and west healthy; disagree: edge-c' }; } });
  controller.start();
  health.set('east', false);
  await until('suspect', () => routing.state().state === 'suspect');
  await controller.evaluate();
  await controller.idle();
  assert.ok(asked.length >= 1 && asked.every((a) => a === 'east->west'), asked.join(', '));
  assert.equal(routing.state().active, 'east');
  assert.equal(routing.state().state, 'suspect');
  assert.match(routing.state().reason, /no failover to west without a quorum: 1\/2 fresh observers/);
  const generation = routing.state().generation;
  await controller.evaluate();
  assert.equal(routing.state().generation, generation, 'the same quorum reason is not written again');
  assert.deepEqual(calls, []);

  allowed = true;
  await controller.evaluate();
  await controller.idle();
  assert.equal(routing.state().active, 'west');
  assert.deepEqual(calls, ['scale#1', 'promote#1']);
  await controller.stop();
});

test('leadership lost mid-step: the step is aborted, not journaled failed; the next term resumes it, earlier steps are not run again', async () => {
  let block = true;
  const behaviour = new Map<string, Behaviour>([['promote', (ctx) => (block
    ? new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }))
    : Promise.resolve({ detail: 'promoted' }))]]);
  const { routing, health, leadership, calls, controller } = await setup({ term: 4, behaviour });
  controller.start();
  health.set('east', false);
  void controller.evaluate();
  await until('promote running', () => calls.includes('promote#1'));
  leadership.lose();
  await controller.idle();
  let s = routing.state();
  assert.equal(s.state, 'failing-over', 'the move stays in progress for the next leader');
  assert.deepEqual(s.transition!.journal.filter((e) => e.step === 'promote').map((e) => e.phase), ['started'], 'not journaled failed');
  await controller.evaluate();
  assert.deepEqual(calls, ['scale#1', 'promote#1'], 'a follower does not resume it');

  block = false;
  leadership.lead(9);
  await until('the move completed', () => routing.state().state === 'failed-over');
  await controller.idle();
  s = routing.state();
  assert.deepEqual(calls, ['scale#1', 'promote#1', 'promote#2'], 'only the interrupted step runs again');
  assert.equal(s.transition!.term, 4, 'the transition keeps the term that began it');
  assert.deepEqual(s.transition!.journal.filter((e) => e.step === 'promote').map((e) => `${e.phase}@${e.term}`), ['started@4', 'started@9', 'done@9']);
  await controller.stop();
});

test('a term that changed under a running move stops it before its next write', async () => {
  const { routing, health, leadership, calls, controller } = await setup({
    term: 4,
    behaviour: new Map([['scale', async () => { leadership.silently(11); return { detail: 'scaled' }; }]]),
  });
  controller.start();
  health.set('east', false);
  await controller.evaluate();
  await controller.idle();
  const s = routing.state();
  assert.equal(s.active, 'east', 'traffic was not switched under another term');
  assert.deepEqual(s.transition!.journal.map((e) => `${e.step}:${e.phase}`), ['scale:started'], 'nothing written after the term changed');
  assert.deepEqual(calls, ['scale#1']);
  await controller.stop();
});

test('a write the store refuses with SWY_STORE_NOT_LEADER stops the run at once: no retry, no failed entry, no further step', async () => {
  const { routing, health, calls, controller, store } = await setup({ term: 4 });
  controller.start();
  health.set('east', false);
  // precheck, begin, scale:started succeed; scale:done is refused by the guard.
  const original = store.save.bind(store);
  let writes = 0;
  store.save = async (next, expected) => { writes++; if (writes === 4) throw new SwitchyardError('SWY_STORE_NOT_LEADER', 'the leader key is now held by edge-a (term 12)'); return original(next, expected); };
  await controller.evaluate();
  await controller.idle();
  const s = routing.state();
  assert.deepEqual(calls, ['scale#1']);
  assert.deepEqual(s.transition!.journal.map((e) => `${e.step}:${e.phase}`), ['scale:started']);
  assert.equal(s.active, 'east');
  assert.equal(routing.storeStatus().ok, true, 'refused for not leading is not a store failure');
  await controller.stop();
});

test('a conflicting write re-reads the stored state (reload) before the move resumes', async () => {
  const { health, controller, store, reloads } = await setup({ term: 4 });
  controller.start();
  store.failNext.push('SWY_STATE_CONFLICT');
  health.set('east', false);
  await controller.evaluate();
  await controller.idle();
  assert.equal(reloads(), 1);
  await controller.stop();
});

test('a follower refuses a manual move and its dry run with SWY_STORE_NOT_LEADER (503) naming the leader; nothing changes', async () => {
  const { routing, controller } = await setup({ term: null, leader: { name: 'edge-a', term: 42 } });
  controller.start();
  const before = routing.state();
  for (const call of [() => controller.failover({ to: 'west', reason: 'r', force: false }), () => controller.plan({ kind: 'manual', to: 'west', reason: 'r', force: false }), () => controller.failback({ reason: 'r', force: true })]) {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(isSwitchyardError(err, 'SWY_STORE_NOT_LEADER'), String(err));
      assert.equal(err.statusCode, 503);
      assert.match(err.message, /edge-b does not lead: edge-a leads \(term 42\)/);
      return true;
    });
  }
  assert.deepEqual(routing.state(), before);
  await controller.stop();
});

test('a quorum that sees the active down decides even while this instance\'s own probes pass', async () => {
  const { routing, calls, controller } = await setup({ term: 2, quorum: (a, t) => ({ allowed: a === 'east' && t === 'west', reason: '2/2 fresh observers see east down and west healthy; agree: edge-b, edge-c' }) });
  controller.start();
  await controller.evaluate();
  await until('the failover', () => routing.state().state === 'failed-over');
  await controller.idle();
  assert.equal(routing.state().active, 'west');
  assert.match(routing.state().transition!.reason, /a quorum sees east down and west healthy \(2\/2 fresh observers/);
  assert.deepEqual(calls, ['scale#1', 'promote#1']);
  await controller.stop();
});

test('without a quorum dep (one instance) nothing changes: own verdicts decide', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'swy-lead-')), 'state.json');
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  const health = fakeHealth({ east: true, west: true });
  const calls: string[] = [];
  const controller = createFailoverController({ config }, { routing, health, createStep: steps(calls, new Map()), logger, registry: new Registry(), sleep: async () => {} });
  controller.start();
  health.set('east', false);
  await until('the failover', () => routing.state().state === 'failed-over');
  await controller.idle();
  assert.equal(routing.state().transition!.term, undefined, 'no term with one instance');
  assert.ok(routing.state().transition!.journal.every((e) => e.term === undefined));
  await controller.stop();
});

test('a step whose own write is refused for not leading ends the run: no failed entry, no retry, nothing after it', async () => {
  const { routing, health, calls, controller } = await setup({
    term: 6,
    behaviour: new Map([['promote', async () => { throw new SwitchyardError('SWY_STORE_NOT_LEADER', 'write refused: the leader key is now held by edge-a (term 8)'); }]]),
  });
  controller.start();
  health.set('east', false);
  await until('promote ran', () => calls.includes('promote#1'));
  await controller.idle();
  const s = routing.state();
  assert.deepEqual(calls, ['scale#1', 'promote#1'], 'promote has retries: 2, but none is tried');
  assert.deepEqual(s.transition!.journal.filter((e) => e.step === 'promote').map((e) => e.phase), ['started']);
  assert.equal(s.state, 'failing-over', 'left for the next leader to resume');
  await controller.stop();
});
