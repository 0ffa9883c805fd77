import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needsConfirmation, step, stepPassive, UNKNOWN, type ThresholdState } from '../../../src/health/thresholds.ts';

const T = { rise: 2, fall: 3 };
const run = (results: string, start: ThresholdState = UNKNOWN, thresholds = T): { up: boolean | null; changes: number } => {
  let state = start;
  let changes = 0;
  for (const c of results) {
    const r = step(state, c === '+', thresholds);
    state = r.state;
    if (r.changed) changes++;
  }
  return { up: state.up, changes };
};

test('rise/fall counting over sequences of results (+ pass, - fail)', () => {
  const cases: Array<{ seq: string; start?: ThresholdState; rise?: number; fall?: number; up: boolean | null; changes: number; why: string }> = [
    { seq: '', up: null, changes: 0, why: 'a fresh probe is unknown' },
    { seq: '+', up: null, changes: 0, why: 'one success is not rise' },
    { seq: '++', up: true, changes: 1, why: 'rise successes give the first verdict' },
    { seq: '--', up: null, changes: 0, why: 'fall - 1 failures at boot leave it unknown, not down' },
    { seq: '---', up: false, changes: 1, why: 'fall failures give the first verdict' },
    { seq: '+-+-+-', up: null, changes: 0, why: 'alternating never reaches rise or fall' },
    { seq: '++--', up: true, changes: 1, why: 'fewer than fall failures keep it up' },
    { seq: '++---', up: false, changes: 2, why: 'fall consecutive failures take it down' },
    { seq: '++--+--', up: true, changes: 1, why: 'a success in between resets the failure count' },
    { seq: '---+', up: false, changes: 1, why: 'one success is not enough to come back' },
    { seq: '---++', up: true, changes: 2, why: 'rise successes bring it back' },
    { seq: '---+-++', up: true, changes: 2, why: 'a failure in between resets the success count' },
    { seq: '+++++++++', up: true, changes: 1, why: 'staying up is not a change' },
    { seq: '+', rise: 1, fall: 1, up: true, changes: 1, why: 'rise 1: one success decides' },
    { seq: '+-', rise: 1, fall: 1, up: false, changes: 2, why: 'fall 1: one failure decides' },
  ];
  for (const c of cases) {
    const got = run(c.seq, c.start, { rise: c.rise ?? T.rise, fall: c.fall ?? T.fall });
    assert.deepEqual(got, { up: c.up, changes: c.changes }, `${JSON.stringify(c.seq)}: ${c.why}`);
  }
});

test('counters stay bounded by rise and fall', () => {
  let state = UNKNOWN;
  for (let i = 0; i < 50; i++) state = step(state, true, T).state;
  assert.deepEqual(state, { up: true, successes: 2, failures: 0 });
  for (let i = 0; i < 50; i++) state = step(state, false, T).state;
  assert.deepEqual(state, { up: false, successes: 0, failures: 3 });
});

test('a passive failure counts as a failure but never completes fall', () => {
  const cases: Array<{ from: ThresholdState; fall: number; to: ThresholdState; why: string }> = [
    { from: { up: true, successes: 2, failures: 0 }, fall: 3, to: { up: true, successes: 0, failures: 1 }, why: 'one more failure' },
    { from: { up: true, successes: 0, failures: 1 }, fall: 3, to: { up: true, successes: 0, failures: 2 }, why: 'up to fall - 1' },
    { from: { up: true, successes: 0, failures: 2 }, fall: 3, to: { up: true, successes: 0, failures: 2 }, why: 'never the failure that completes fall' },
    { from: { up: true, successes: 2, failures: 0 }, fall: 1, to: { up: true, successes: 0, failures: 0 }, why: 'fall 1: an active failure is always needed' },
    { from: { up: null, successes: 1, failures: 0 }, fall: 3, to: { up: null, successes: 0, failures: 1 }, why: 'resets a fresh probe\'s successes' },
    { from: { up: false, successes: 1, failures: 0 }, fall: 3, to: { up: false, successes: 1, failures: 0 }, why: 'a down probe is left alone' },
  ];
  for (const c of cases) {
    assert.deepEqual(stepPassive(c.from, { rise: 2, fall: c.fall }), c.to, c.why);
  }
  let state: ThresholdState = { up: true, successes: 2, failures: 0 };
  for (let i = 0; i < 10; i++) state = stepPassive(state, T);
  assert.equal(state.up, true, 'passive failures alone never take a probe down');
  assert.equal(step(state, false, T).state.up, false, 'one active failure after them does');
});

test('when checks come at the confirm pace', () => {
  const cases: Array<{ state: ThresholdState; quick: boolean; why: string }> = [
    { state: UNKNOWN, quick: false, why: 'nothing to confirm yet' },
    { state: { up: null, successes: 1, failures: 0 }, quick: true, why: 'a fresh probe confirms its first success' },
    { state: { up: null, successes: 0, failures: 1 }, quick: true, why: 'a fresh probe confirms its first failure' },
    { state: { up: true, successes: 2, failures: 0 }, quick: false, why: 'steady up' },
    { state: { up: true, successes: 0, failures: 1 }, quick: true, why: 'up with failures: confirm the outage fast' },
    { state: { up: false, successes: 0, failures: 3 }, quick: false, why: 'steady down' },
    { state: { up: false, successes: 1, failures: 0 }, quick: false, why: 'recovery goes at the normal pace' },
  ];
  for (const c of cases) assert.equal(needsConfirmation(c.state), c.quick, c.why);
});
