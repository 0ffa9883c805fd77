import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbeScheduler, type CheckResult } from '../../../src/health/scheduler.ts';
import { needsConfirmation, step, UNKNOWN } from '../../../src/health/thresholds.ts';
import type { Probe } from '../../../src/health/types.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { createFakeTime, type FakeTime } from '../../support/fake-timers.ts';

type Behaviour = 'ok' | 'fail' | 'hang' | 'ignore-abort' | { ms: number; ok: boolean };

/** A probe whose every check behaves as `behaviour()` says at the moment it starts. */
function fakeProbe(time: FakeTime, behaviour: () => Behaviour) {
  const starts: number[] = [];
  const signals: AbortSignal[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const probe: Probe = {
    name: 'fake',
    check(signal) {
      starts.push(time.now());
      signals.push(signal);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const b = behaviour();
      const done = new Promise<void>((resolve, reject) => {
        if (b === 'ok') resolve();
        else if (b === 'fail') reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        else if (b === 'hang') signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        else if (b === 'ignore-abort') time.timers.setTimeout(() => reject(new Error('late')), 3000);
        else time.timers.setTimeout(() => (b.ok ? resolve() : reject(new Error('slow failure'))), b.ms);
      });
      return done.finally(() => inFlight--);
    },
  };
  return { probe, starts, signals, maxInFlight: () => maxInFlight };
}

const base = { interval: 1000, timeout: 500, jitter: 0, confirmInterval: 200 };

test('checks run every interval, the first within the jitter', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts } = fakeProbe(time, () => ({ ms: 30, ok: true }));
  const results: CheckResult[] = [];
  const s = createProbeScheduler({ ...base, probe, onResult: (r) => (results.push(r), false) }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(3500);
  assert.deepEqual(starts.map((t) => t - t0), [0, 1000, 2000, 3000], 'interval measured from the start of a check, not its end');
  assert.deepEqual(results.map((r) => [r.ok, r.durationMs]), [[true, 30], [true, 30], [true, 30], [true, 30]]);
  await s.stop();
  assert.equal(time.pending(), 0, 'no timer left after stop');
});

test('jitter adds a random delay in [0, jitter) to every interval', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts } = fakeProbe(time, () => 'ok');
  const randoms = [0.5, 0.25, 0.9, 0];
  let i = 0;
  const s = createProbeScheduler({ ...base, jitter: 100, probe, onResult: () => false }, { now: time.now, random: () => randoms[i++ % randoms.length], timers: time.timers });
  s.start();
  await time.advance(3200);
  assert.deepEqual(starts.map((t) => t - t0), [50, 50 + 1025, 50 + 1025 + 1090, 50 + 1025 + 1090 + 1000]);
  await s.stop();
});

test('a check that passes its timeout is aborted and fails with SWY_HEALTH_TIMEOUT', async () => {
  const time = createFakeTime();
  const { probe, signals } = fakeProbe(time, () => 'hang');
  const results: CheckResult[] = [];
  const s = createProbeScheduler({ ...base, probe, onResult: (r) => (results.push(r), false) }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(499);
  assert.equal(results.length, 0);
  assert.equal(signals[0].aborted, false);
  await time.advance(1);
  assert.equal(results.length, 1);
  assert.equal(signals[0].aborted, true, 'the probe saw the abort');
  assert.equal(results[0].ok, false);
  assert.equal(results[0].timedOut, true);
  assert.equal(results[0].durationMs, 500);
  assert.ok(isSwitchyardError(results[0].error, 'SWY_HEALTH_TIMEOUT'));
  await s.stop();
});

test('one check in flight: a probe that ignores the abort is not run twice, the due check fails', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts, maxInFlight } = fakeProbe(time, () => 'ignore-abort');
  const results: CheckResult[] = [];
  const s = createProbeScheduler({ ...base, probe, onResult: (r) => (results.push(r), false) }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(3999);
  assert.equal(maxInFlight(), 1);
  assert.deepEqual(starts.map((t) => t - t0), [0, 3000], 'the next real check starts only after the stuck one returned');
  assert.equal(results[0].timedOut, true, 'the stuck check counts as a timeout at 500ms');
  assert.ok(isSwitchyardError(results[1].error, 'SWY_HEALTH_STILL_RUNNING'));
  assert.ok(isSwitchyardError(results[2].error, 'SWY_HEALTH_STILL_RUNNING'));
  await s.stop();
});

test('after a failure the next check comes at confirmInterval from the end of the last one', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts } = fakeProbe(time, () => ({ ms: 10, ok: false }));
  const s = createProbeScheduler({ ...base, probe, onResult: () => true }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(700);
  assert.deepEqual(starts.map((t) => t - t0), [0, 210, 420, 630]);
  await s.stop();
});

/**
 * Runs a scheduler fed by the real threshold counting; the probe dies at `dieAt`. Returns how long
 * after the end of the last passing check (the worst case for a death) and after the first failing
 * check the down verdict came.
 */
async function timeToDown(options: { dieAt: number; dead: Behaviour; random: number; jitter: number }): Promise<{ sinceLastOk: number; sinceFirstFailure: number }> {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe } = fakeProbe(time, () => (time.now() - t0 >= options.dieAt ? options.dead : { ms: 2, ok: true }));
  let state = UNKNOWN;
  let downAt = -1;
  let lastOkEnd = -1;
  let firstFailureStart = -1;
  const s = createProbeScheduler({
    ...base,
    jitter: options.jitter,
    probe,
    onResult(r) {
      if (r.ok) lastOkEnd = r.startedAt + r.durationMs;
      else if (firstFailureStart === -1) firstFailureStart = r.startedAt;
      const next = step(state, r.ok, { rise: 2, fall: 3 });
      state = next.state;
      if (next.changed && state.up === false) downAt = time.now();
      return needsConfirmation(state);
    },
  }, { now: time.now, random: () => options.random, timers: time.timers });
  s.start();
  await time.advance(options.dieAt + 5000);
  await s.stop();
  assert.notEqual(downAt, -1, 'the probe went down');
  return { sinceLastOk: downAt - lastOkEnd, sinceFirstFailure: downAt - firstFailureStart };
}

test('detection takes about interval + (fall-1) x confirmInterval, not fall x interval', async () => {
  // interval 1s, jitter 100ms (worst: random near 1), fall 3, confirm 200ms, timeout 500ms.
  const refused = await timeToDown({ dieAt: 5000, dead: { ms: 1, ok: false }, random: 0.999, jitter: 100 });
  assert.ok(refused.sinceLastOk <= 1000 + 100 + 2 * 200 + 3, `connection refused: down ${refused.sinceLastOk}ms after the last passing check, expected <= ~1.5s`);
  assert.ok(refused.sinceLastOk >= 1000 + 2 * 200, `connection refused: ${refused.sinceLastOk}ms`);
  assert.ok(refused.sinceFirstFailure <= 2 * 201 + 1, `connection refused: down ${refused.sinceFirstFailure}ms after the first failed check`);
  const hanging = await timeToDown({ dieAt: 5000, dead: 'hang', random: 0.999, jitter: 100 });
  assert.ok(hanging.sinceLastOk <= 1000 + 100 + 3 * 500 + 2 * 200, `no answer: down ${hanging.sinceLastOk}ms after the last passing check`);
  assert.equal(hanging.sinceFirstFailure, 3 * 500 + 2 * 200, 'no answer: three timeouts and two confirm gaps');
});

test('confirmSoon runs an idle probe now (no sooner than confirmInterval after its last check), once for a burst', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts } = fakeProbe(time, () => ({ ms: 10, ok: true }));
  const s = createProbeScheduler({ ...base, probe, onResult: () => false }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(100);
  for (let i = 0; i < 50; i++) s.confirmSoon();
  await time.advance(200);
  assert.deepEqual(starts.map((t) => t - t0), [0, 210], 'one extra check, confirmInterval after the end of the last');
  await time.advance(400);
  s.confirmSoon();
  await time.advance(1);
  assert.deepEqual(starts.map((t) => t - t0), [0, 210, 700], 'long enough after the last check: runs at once');
  await time.advance(1000);
  assert.deepEqual(starts.map((t) => t - t0), [0, 210, 700, 1700], 'then back to the interval');
  await s.stop();
});

test('confirmSoon during a check makes the next one come at the confirm pace', async () => {
  const time = createFakeTime();
  const t0 = time.now();
  const { probe, starts } = fakeProbe(time, () => ({ ms: 100, ok: true }));
  const s = createProbeScheduler({ ...base, probe, onResult: () => false }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(50);
  s.confirmSoon();
  await time.advance(1500);
  assert.deepEqual(starts.map((t) => t - t0), [0, 300, 1300]);
  await s.stop();
});

test('stop aborts the running check and reports nothing more', async () => {
  const time = createFakeTime();
  const { probe, signals } = fakeProbe(time, () => 'hang');
  let results = 0;
  const s = createProbeScheduler({ ...base, probe, onResult: () => (results++, false) }, { now: time.now, random: () => 0, timers: time.timers });
  s.start();
  await time.advance(100);
  await s.stop();
  assert.equal(signals[0].aborted, true);
  assert.ok(isSwitchyardError(signals[0].reason, 'SWY_HEALTH_STOPPED'));
  assert.equal(results, 0);
  assert.equal(time.pending(), 0);
  s.start();
  s.confirmSoon();
  await time.advance(5000);
  assert.equal(signals.length, 1, 'a stopped scheduler stays stopped');
});
