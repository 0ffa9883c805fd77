import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/index.ts';
import { createFailoverController } from '../../../src/failover/controller.ts';
import type { Step, StepContext } from '../../../src/failover/step.ts';
import { createFileStore, createRouting, type Routing, type RoutingState } from '../../../src/routing/index.ts';
import type { ClusterHealth, HealthSource } from '../../../src/health/types.ts';
import { SwitchyardError } from '../../../src/errors.ts';
import type { StepConfig } from '../../../src/config/index.ts';

const logger = pino({ level: 'silent' });

function configWith(steps: string): ReturnType<typeof parseConfig> {
  return parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
failover:
  cooldown: 0s
  steps:
${steps}
`, {}, '/');
}

const STEPS = `    - exec: { name: scale, command: [x], retries: 0, onFailure: hold }
    - switch-traffic
    - exec: { name: promote, command: [x], retries: 0, onFailure: hold }
    - exec: { name: notify, command: [x], retries: 0 }`;

function fakeHealth(initial: Record<string, boolean | null>) {
  const verdicts = { ...initial };
  const subs = new Set<(c: ClusterHealth) => void>();
  const view = (name: string): ClusterHealth => ({ name, healthy: verdicts[name], probes: [{ name: 'p', ok: verdicts[name], latencyMs: 1, error: verdicts[name] === false ? 'refused' : null, checkedAt: null }], since: null });
  const source: HealthSource & { set(name: string, v: boolean): void } = {
    clusters: () => Object.keys(verdicts).map(view),
    subscribe(fn) { subs.add(fn); return () => subs.delete(fn); },
    reportPassiveFailure() {},
    set(name, v) { verdicts[name] = v; for (const fn of subs) fn(view(name)); },
  };
  return source;
}

interface Recorder { calls: string[]; behaviour: Map<string, (ctx: StepContext) => Promise<unknown>>; prechecks: Map<string, () => Promise<void>> }
function recorder(): Recorder { return { calls: [], behaviour: new Map(), prechecks: new Map() }; }
const stepFactory = (rec: Recorder) => (config: StepConfig): Step => ({
  config,
  precheck: async () => { await rec.prechecks.get(config.name)?.(); },
  run: async (ctx) => {
    rec.calls.push(`${config.name}#${ctx.attempt}@${ctx.epoch}:${ctx.idempotencyKey}`);
    const b = rec.behaviour.get(config.name);
    return b ? (await b(ctx)) as { detail?: string } : { detail: `${config.name} ok` };
  },
});

async function setup(opts: { steps?: string; file?: string; health?: Record<string, boolean | null>; rec?: Recorder; awaitTraffic?: (generation: number, signal: AbortSignal) => Promise<void> } = {}) {
  const config = configWith(opts.steps ?? STEPS);
  const file = opts.file ?? join(mkdtempSync(join(tmpdir(), 'swy-ctl-')), 'state.json');
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  const health = fakeHealth(opts.health ?? { east: true, west: true });
  const rec = opts.rec ?? recorder();
  const controller = createFailoverController({ config }, { routing, health, createStep: stepFactory(rec), logger, registry: new Registry(), sleep: async () => {}, awaitTraffic: opts.awaitTraffic });
  return { config, file, routing, health, rec, controller };
}

const phases = (r: Routing) => r.state().transition!.journal.map((e) => `${e.step}:${e.phase}`);

test('automatic failover: steps in order, each journaled before and after, traffic switched once', async () => {
  const { routing, health, rec, controller } = await setup();
  const seenActive: string[] = [];
  routing.subscribe((s) => seenActive.push(s.active));
  controller.start();
  health.set('east', false);
  await controller.evaluate();
  await controller.idle();
  const s = routing.state();
  assert.equal(s.active, 'west');
  assert.equal(s.state, 'failed-over');
  assert.equal(s.epoch, 1);
  assert.deepEqual(rec.calls, ['scale#1@1:switchyard:1:scale', 'promote#1@1:switchyard:1:promote', 'notify#1@1:switchyard:1:notify']);
  assert.deepEqual(phases(routing), ['scale:started', 'scale:done', 'switch-traffic:started', 'switch-traffic:done', 'promote:started', 'promote:done', 'notify:started', 'notify:done']);
  assert.equal(s.transition!.outcome, 'completed');
  assert.equal(seenActive.filter((a, i) => a === 'west' && seenActive[i - 1] !== 'west').length, 1, 'active flipped exactly once');
  health.set('east', true);
  await controller.evaluate();
  assert.equal(routing.state().active, 'west', 'no automatic failback');
  await controller.stop();
});

test('a failed precheck holds and moves nothing', async () => {
  const rec = recorder();
  rec.prechecks.set('promote', async () => { throw new SwitchyardError('SWY_FAILOVER_REPLICA_LAG' as never, 'replica 99 MB behind'); });
  const { routing, health, controller } = await setup({ rec });
  controller.start();
  health.set('east', false);
  await controller.evaluate();
  await controller.idle();
  const s = routing.state();
  assert.equal(s.state, 'held');
  assert.equal(s.active, 'east');
  assert.equal(s.epoch, 0);
  assert.match(s.reason, /blocked by prechecks: promote: .*replica 99 MB behind/);
  assert.equal(s.holdCode, 'SWY_FAILOVER_PRECHECK_FAILED', 'the hold records its code in the state');
  assert.deepEqual(rec.calls, []);
  await assert.rejects(controller.failover({ to: 'west', reason: 'try', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_PRECHECK_FAILED');
  assert.equal(routing.state().active, 'east');
  const r = await controller.failover({ to: 'west', reason: 'break glass', force: true });
  assert.equal(r.active, 'west');
  assert.equal(routing.state().holdCode, undefined, 'leaving held drops the code');
  assert.equal(routing.state().transition!.forced, true);
  await controller.stop();
});

test('a step that fails with onFailure: hold stops the transition; failover --to the target resumes at that step', async () => {
  const rec = recorder();
  let failPromote = true;
  rec.behaviour.set('promote', async () => { if (failPromote) throw new Error('promotion refused'); return { detail: 'promoted' }; });
  const { routing, controller } = await setup({ rec });
  controller.start();
  await assert.rejects(controller.failover({ to: 'west', reason: 'planned', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_HELD');
  let s = routing.state();
  assert.equal(s.state, 'held');
  assert.equal(s.active, 'west', 'traffic had moved before the failing step; DNS keeps the last safe state');
  assert.match(s.reason, /step promote failed after 1 attempt\(s\): promotion refused/);
  assert.equal(s.holdCode, 'SWY_FAILOVER_STEP_FAILED');
  await controller.evaluate();
  assert.equal(routing.state().state, 'held', 'a step hold is sticky');
  failPromote = false;
  await controller.failover({ to: 'west', reason: 'fixed', force: false });
  s = routing.state();
  assert.equal(s.state, 'failed-over');
  assert.deepEqual(rec.calls.map((c) => c.split('@')[0]), ['scale#1', 'promote#1', 'promote#2', 'notify#1']);
  assert.equal(s.epoch, 1, 'resuming keeps the epoch');
  await controller.stop();
});

test('retries with backoff, then onFailure: continue journals the step as skipped', async () => {
  const rec = recorder();
  let n = 0;
  rec.behaviour.set('scale', async () => { if (++n < 3) throw new Error(`flaky ${n}`); return {}; });
  rec.behaviour.set('notify', async () => { throw new Error('webhook down'); });
  const steps = STEPS.replace('name: scale, command: [x], retries: 0', 'name: scale, command: [x], retries: 2').replace('name: notify, command: [x], retries: 0', 'name: notify, command: [x], retries: 1');
  const { routing, controller } = await setup({ steps, rec });
  controller.start();
  await controller.failover({ to: 'west', reason: 'planned', force: false });
  assert.deepEqual(phases(routing).filter((p) => p.startsWith('scale') || p.startsWith('notify')), [
    'scale:started', 'scale:failed', 'scale:started', 'scale:failed', 'scale:started', 'scale:done',
    'notify:started', 'notify:failed', 'notify:started', 'notify:failed', 'notify:skipped',
  ]);
  assert.equal(routing.state().state, 'failed-over');
  await controller.stop();
});

test('a step past its timeout fails with SWY_FAILOVER_STEP_TIMEOUT and its signal is aborted', async () => {
  const rec = recorder();
  let aborted = false;
  rec.behaviour.set('scale', (ctx) => new Promise((_r, reject) => { ctx.signal.addEventListener('abort', () => { aborted = true; reject(ctx.signal.reason); }); }));
  const { routing, controller } = await setup({ steps: STEPS.replace('name: scale, command: [x]', 'name: scale, timeout: 50ms, command: [x]'), rec });
  controller.start();
  await assert.rejects(controller.failover({ to: 'west', reason: 'planned', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_HELD');
  assert.ok(aborted);
  assert.match(routing.state().reason, /SWY_FAILOVER_STEP_TIMEOUT/);
  assert.equal(routing.state().active, 'east', 'nothing moved: the failing step came before switch-traffic');
  await controller.stop();
});

test('after a crash mid-step a new controller resumes from the journal and never re-runs a finished step', async () => {
  const rec = recorder();
  let release!: () => void;
  rec.behaviour.set('promote', () => new Promise((r) => { release = () => r({}); }));
  const first = await setup({ rec });
  first.controller.start();
  const moving = first.controller.failover({ to: 'west', reason: 'planned', force: false }).catch((e) => e);
  for (let i = 0; i < 100 && !release; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(release, 'promote started');
  // "Crash": a second controller starts on the same state file while the first is stuck mid-step.
  const rec2 = recorder();
  const second = await setup({ file: first.file, rec: rec2 });
  assert.equal(second.routing.state().state, 'failing-over');
  second.controller.start();
  await second.controller.idle();
  assert.deepEqual(rec2.calls.map((c) => c.split('@')[0]), ['promote#2', 'notify#1'], 'scale and switch-traffic are not repeated; promote gets attempt 2');
  assert.equal(second.routing.state().state, 'failed-over');
  assert.equal(second.routing.state().active, 'west');
  await second.controller.stop();
  release();
  await moving;
  await first.controller.stop();
});

test('a journal that does not match the configured steps holds instead of guessing', async () => {
  const first = await setup();
  await first.routing.commit((s): RoutingState => ({ ...s, epoch: 1, state: 'failing-over', transition: { epoch: 1, kind: 'failover', from: 'east', to: 'west', reason: 'r', forced: false, startedAt: new Date().toISOString(), journal: [{ step: 'renamed-step', index: 0, phase: 'done', attempt: 1, at: new Date().toISOString() }] } }));
  const second = await setup({ file: first.file });
  second.controller.start();
  await second.controller.idle();
  const s = second.routing.state();
  assert.equal(s.state, 'held');
  assert.equal(s.holdCode, 'SWY_FAILOVER_JOURNAL_MISMATCH');
  assert.match(s.reason, /does not match the configured steps/);
  assert.deepEqual(second.rec.calls, []);
  await second.controller.stop();
});

test('manual requests: unknown cluster, already active, in progress; failback returns to the preferred cluster', async () => {
  const { routing, controller } = await setup();
  controller.start();
  await assert.rejects(controller.failover({ to: 'north', reason: '', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_UNKNOWN_CLUSTER' && e.statusCode === 404);
  await assert.rejects(controller.failover({ to: 'east', reason: '', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_ALREADY_ACTIVE');
  await assert.rejects(controller.failback({ reason: '', force: false }), (e: SwitchyardError) => e.code === 'SWY_FAILOVER_ALREADY_ACTIVE');
  const gen = routing.state().generation;
  assert.equal(routing.state().generation, gen, 'rejected requests change nothing');
  const r = await controller.failover({ to: 'west', reason: 'maintenance', force: false });
  assert.equal(r.transition!.kind, 'switchover');
  const back = await controller.failback({ reason: 'done', force: false });
  assert.equal(back.active, 'east');
  assert.equal(back.transition!.kind, 'failback');
  assert.equal(routing.state().state, 'steady');
  assert.equal(routing.state().epoch, 2);
  await controller.stop();
});

test('shutdown mid-step does not journal a failure; the step resumes next start', async () => {
  const rec = recorder();
  rec.behaviour.set('scale', (ctx) => new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
  const first = await setup({ rec });
  first.controller.start();
  const moving = first.controller.failover({ to: 'west', reason: 'planned', force: false }).catch((e: SwitchyardError) => e.code);
  for (let i = 0; i < 100 && rec.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  await first.controller.stop();
  assert.equal(await moving, 'SWY_FAILOVER_SHUTDOWN');
  assert.deepEqual(phases(first.routing), ['scale:started']);
  const second = await setup({ file: first.file });
  second.controller.start();
  await second.controller.idle();
  assert.equal(second.routing.state().state, 'failed-over');
  await second.controller.stop();
});

test('a state write that fails mid-transition leaves it to be resumed by the next evaluation, not stuck', async () => {
  const config = configWith(STEPS);
  const file = join(mkdtempSync(join(tmpdir(), 'swy-ctl-')), 'state.json');
  const real = createFileStore({ file });
  let failNext = 0;
  const store = { ...real, save: async (next: RoutingState, expected: number) => {
    if (next.transition?.journal.some((e) => e.step === 'promote' && e.phase === 'started') && failNext-- > 0) throw new SwitchyardError('SWY_STATE_WRITE', 'disk full');
    return real.save(next, expected);
  } };
  const routing = await createRouting({ store, clusters: ['east', 'west'] });
  const rec = recorder();
  let t = 0;
  const controller = createFailoverController({ config }, { routing, health: fakeHealth({ east: true, west: true }), createStep: stepFactory(rec), logger, registry: new Registry(), sleep: async () => {}, now: () => t });
  controller.start();
  failNext = 1;
  await assert.rejects(controller.failover({ to: 'west', reason: 'planned', force: false }), (e: SwitchyardError) => e.code === 'SWY_STATE_WRITE');
  assert.equal(routing.state().state, 'failing-over');
  assert.deepEqual(rec.calls.map((c) => c.split('@')[0]), ['scale#1']);
  t += 10_000;
  await controller.evaluate();
  await controller.idle();
  assert.equal(routing.state().state, 'failed-over');
  assert.deepEqual(rec.calls.map((c) => c.split('@')[0]), ['scale#1', 'promote#1', 'notify#1'], 'nothing finished runs twice');
  await controller.stop();
});

test('with awaitTraffic, switch-traffic commits the new active, waits for the acknowledgement of its generation, then journals done; a resumed step waits again without moving twice', async () => {
  const acks: Array<{ generation: number; release: () => void }> = [];
  const awaitTraffic = (generation: number) => new Promise<void>((resolve) => { acks.push({ generation, release: resolve }); });
  const first = await setup({ awaitTraffic });
  first.controller.start();
  const moving = first.controller.failover({ to: 'west', reason: 'planned', force: false }).catch((e) => e);
  for (let i = 0; i < 200 && acks.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(acks.length, 1, 'switch-traffic waits for the acknowledgement');
  const committed = first.routing.state();
  assert.equal(committed.active, 'west', 'the new active is committed before the wait');
  assert.equal(acks[0].generation, committed.generation, 'it waits for the generation that carries the new active');
  assert.deepEqual(phases(first.routing).slice(-1), ['switch-traffic:started'], 'not journaled done before the acknowledgement');

  // "Crash" while waiting: a second controller on the same state resumes the step.
  const second = await setup({ file: first.file, awaitTraffic });
  const flips: string[] = [];
  second.routing.subscribe((s) => flips.push(s.active));
  second.controller.start();
  for (let i = 0; i < 200 && acks.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(acks.length, 2, 'the resumed step waits for the acknowledgement again');
  assert.equal(acks[1].generation, second.routing.state().generation, 'of the generation in force: nothing was committed again');
  assert.deepEqual(phases(second.routing).filter((p) => p.startsWith('switch-traffic')), ['switch-traffic:started', 'switch-traffic:started']);
  acks[1].release();
  await second.controller.idle();
  assert.deepEqual(phases(second.routing).filter((p) => p.startsWith('switch-traffic')), ['switch-traffic:started', 'switch-traffic:started', 'switch-traffic:done']);
  assert.equal(second.routing.state().state, 'failed-over');
  assert.ok(flips.every((a) => a === 'west'), `active never went back: ${flips.join(',')}`);
  await second.controller.stop();
  acks[0].release();
  await moving;
  await first.controller.stop();
});

test('a policy hold (automation off) records SWY_FAILOVER_HELD and moves nothing; the recovered active clears it and its code', async () => {
  const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
failover:
  automatic: false
  steps:
${STEPS}
`, {}, '/');
  const file = join(mkdtempSync(join(tmpdir(), 'swy-ctl-')), 'state.json');
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  const health = fakeHealth({ east: true, west: true });
  const rec = recorder();
  const controller = createFailoverController({ config }, { routing, health, createStep: stepFactory(rec), logger, registry: new Registry(), sleep: async () => {} });
  controller.start();
  // The health change starts an evaluation itself; wait (bounded) for its commit.
  const settled = async (state: string) => { for (let i = 0; i < 100 && routing.state().state !== state; i++) await new Promise((r) => setTimeout(r, 10)); };
  health.set('east', false);
  await settled('held');
  assert.equal(routing.state().state, 'held');
  assert.equal(routing.state().holdCode, 'SWY_FAILOVER_HELD');
  assert.equal(routing.state().active, 'east');
  assert.deepEqual(rec.calls, []);
  health.set('east', true);
  await settled('steady');
  assert.equal(routing.state().state, 'steady');
  assert.equal(routing.state().holdCode, undefined);
  await controller.stop();
});
