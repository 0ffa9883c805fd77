import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, type JournalEntry, type RoutingState } from '../../../src/routing/index.ts';
import * as T from '../../../src/routing/transitions.ts';
import { stateProblem } from '../../../src/routing/validate-state.ts';

const AT = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:01:00.000Z';
const rest = (): RoutingState => initialState('east', new Date(AT));
/** What Routing.commit makes of a body: the holder's fields back on. */
const stored = (b: T.StateBody, prev: RoutingState): RoutingState => ({ ...b, version: 1, generation: prev.generation + 1, updatedAt: LATER });
const entry = (phase: JournalEntry['phase'], index = 0, step = 'switch-traffic'): JournalEntry => ({ step, index, phase, attempt: 1, at: LATER });
const apply = (s: RoutingState, b: T.StateBody) => stored(b, s);

const moving = (): RoutingState => {
  const s = rest();
  return apply(s, T.begin(s, { kind: 'failover', from: 'east', to: 'west', reason: 'east is down', forced: false, at: AT }));
};

test('the state names are listed once and the validator knows exactly those', () => {
  assert.deepEqual([...T.FAILOVER_STATES], ['steady', 'suspect', 'precheck', 'failing-over', 'failed-over', 'held', 'failing-back']);
  for (const state of T.FAILOVER_STATES) assert.equal(stateProblem({ ...rest(), state }), undefined, state);
  assert.match(stateProblem({ ...rest(), state: 'moving' }) ?? '', /unknown/);
});

test('a move is in progress only in a moving state with an unfinished transition', () => {
  assert.equal(T.moveInProgress(rest()), false);
  const m = moving();
  assert.equal(T.moveInProgress(m), true);
  assert.equal(T.inProgressTarget(m), 'west');
  const held = apply(m, T.hold(m, 'SWY_FAILOVER_STEP_FAILED', 'step failed'));
  assert.equal(T.moveInProgress(held), false);
  assert.equal(T.inProgressTarget(held), null);
  const done = apply(m, T.finish(m, { preferred: 'east', at: LATER }));
  assert.equal(T.moveInProgress(done), false);
  assert.equal(T.isMovingState('failing-back'), true);
  assert.equal(T.isMovingState('precheck'), false);
});

test('begin: next epoch, a moving state by kind, the prechecks\' findings as the first journal entries', () => {
  const s = rest();
  const found = [{ ...entry('precheck', 1, 'postgres-promote'), attempt: 0, facts: { timeline: 3 } }];
  const b = T.begin(s, { kind: 'switchover', from: 'east', to: 'west', reason: 'drill', forced: true, at: AT, journal: found });
  assert.equal(b.epoch, 1);
  assert.equal(b.state, 'failing-over');
  assert.equal(b.active, 'east', 'beginning moves no traffic');
  assert.equal(b.reason, 'switchover east→west: drill');
  assert.deepEqual(b.transition, { epoch: 1, kind: 'switchover', from: 'east', to: 'west', reason: 'drill', forced: true, startedAt: AT, journal: found });
  assert.equal(T.begin(s, { kind: 'failback', from: 'west', to: 'east', reason: 'back', forced: false, at: AT }).state, 'failing-back');
  assert.equal(s.epoch, 0, 'the input is not changed');
});

test('journal appends and records an unfenced source in the same write; switch moves traffic with its done entry', () => {
  const m = moving();
  const started = apply(m, T.journal(m, entry('started')));
  assert.deepEqual(started.transition!.journal.map((e) => e.phase), ['started']);
  const unfenced = { cluster: 'east', epoch: 1, since: LATER, detail: 'unreachable' };
  const fenced = T.journal(started, entry('done', 0, 'postgres-fence'), { unfenced });
  assert.deepEqual(fenced.unfenced, unfenced);
  assert.equal(fenced.transition!.journal.length, 2);
  const switched = T.switchTraffic(started, 'west', entry('done'));
  assert.equal(switched.active, 'west');
  assert.deepEqual(switched.transition!.journal.map((e) => e.phase), ['started', 'done']);
  const only = T.switchTraffic(started, 'west');
  assert.equal(only.active, 'west');
  assert.equal(only.transition!.journal.length, 1, 'without an entry only the active moves');
  assert.throws(() => T.journal(rest(), entry('started')), /no transition/);
});

test('hold records its code; mid-move it marks the move held (sticky), at rest it leaves the last move alone', () => {
  const m = moving();
  const held = apply(m, T.hold(m, 'SWY_FAILOVER_STEP_FAILED', 'step x failed'));
  assert.equal(held.state, 'held');
  assert.equal(held.holdCode, 'SWY_FAILOVER_STEP_FAILED');
  assert.equal(held.transition!.outcome, 'held');
  assert.equal(T.isStickyHold(held), true);
  const done = apply(m, T.finish(m, { preferred: 'east', at: LATER }));
  const heldAfter = T.hold(done, 'SWY_FAILOVER_PRECHECK_FAILED', 'blocked');
  assert.equal(heldAfter.transition!.outcome, 'completed', 'a finished move stays finished');
  const policy = T.holdAtRest(m, 'SWY_FAILOVER_HELD', 'automation off');
  assert.equal(policy.holdCode, 'SWY_FAILOVER_HELD');
  assert.equal(policy.transition!.outcome, undefined);
});

test('every transition that leaves held drops the hold code', () => {
  const m = moving();
  const held = apply(m, T.hold(m, 'SWY_FAILOVER_STEP_FAILED', 'failed'));
  const bodies: T.StateBody[] = [
    T.resume(held, { reason: 'fixed', forced: false }),
    T.clearHold(held, { preferred: 'east', reason: 'operator', at: LATER }),
    T.settle(held, 'steady', 'recovered'),
    T.precheck(held, 'prechecking'),
    T.begin(held, { kind: 'failover', from: 'east', to: 'west', reason: 'again', forced: false, at: LATER }),
  ];
  for (const b of bodies) assert.equal('holdCode' in b, false, b.state);
  assert.equal(T.journal(held, entry('started')).holdCode, 'SWY_FAILOVER_STEP_FAILED', 'a journal write while held keeps it');
});

test('resume runs the held move again, forced if either was; clearHold ends it where it is', () => {
  const m = moving();
  const held = apply(m, T.hold(m, 'SWY_FAILOVER_STEP_FAILED', 'failed'));
  const r = T.resume(held, { reason: 'fixed it', forced: true });
  assert.equal(r.state, 'failing-over');
  assert.equal(r.reason, 'resuming failover: fixed it');
  assert.equal(r.transition!.forced, true);
  assert.equal(r.transition!.outcome, undefined);
  assert.equal(r.epoch, held.epoch, 'a resumed move keeps its epoch');
  const c = T.clearHold(held, { preferred: 'east', reason: 'operator', at: LATER });
  assert.equal(c.state, 'steady');
  assert.equal(c.transition!.finishedAt, LATER);
  assert.equal(c.reason, 'hold cleared by request: operator');
});

test('finish rests on the new active: failed-over away from the preferred cluster, steady on it', () => {
  const m = moving();
  const switched = apply(m, T.switchTraffic(m, 'west', entry('done')));
  const f = T.finish(switched, { preferred: 'east', at: LATER });
  assert.equal(f.state, 'failed-over');
  assert.equal(f.transition!.outcome, 'completed');
  assert.equal(f.transition!.finishedAt, LATER);
  assert.equal(f.reason, 'failover east→west completed (epoch 1): east is down');
  assert.equal(T.finish(m, { preferred: 'east', at: LATER }).state, 'steady');
  assert.equal(T.restingState({ active: 'west' }, 'east'), 'failed-over');
});

test('settle and precheck change only the state and reason', () => {
  const s = rest();
  const sus = T.settle(s, 'suspect', 'one probe failing');
  assert.deepEqual({ ...sus, state: s.state, reason: s.reason }, { epoch: s.epoch, active: s.active, state: s.state, reason: s.reason, transition: s.transition });
  assert.equal(T.precheck(s, 'checking').state, 'precheck');
});
