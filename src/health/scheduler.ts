// Runs one probe on its schedule: one check in flight at a time, every `interval` plus a random
// jitter in [0, jitter), each check aborted at `timeout`; while a verdict is being confirmed the
// next check comes `confirmInterval` after the previous one ended instead. Time and timers are
// injected so tests can drive the schedule with a fake clock.
import { SwitchyardError } from '../errors.ts';
import type { Probe } from './types.ts';

export type TimerHandle = unknown;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface CheckResult {
  ok: boolean;
  /** Why the check failed; null when it passed. */
  error: unknown;
  timedOut: boolean;
  startedAt: number;
  durationMs: number;
}

export interface ProbeSchedulerOptions {
  probe: Probe;
  interval: number;
  timeout: number;
  jitter: number;
  confirmInterval: number;
  /** Called after every check; returns true when the next check should come at the confirm pace. */
  onResult(result: CheckResult): boolean;
}

export interface ProbeSchedulerDeps {
  now: () => number;
  random: () => number;
  timers: Timers;
}

export interface ProbeScheduler {
  /** Schedules the first check within [0, jitter). */
  start(): void;
  /** Asks for a check soon: now if idle and at least confirmInterval after the last one, else as soon as allowed. */
  confirmSoon(): void;
  /** Cancels the next check and aborts the running one; resolves once no check of ours is pending. */
  stop(): Promise<void>;
}

export function createProbeScheduler(options: ProbeSchedulerOptions, deps: ProbeSchedulerDeps): ProbeScheduler {
  const { probe, interval, timeout, jitter, confirmInterval, onResult } = options;
  const { now, random, timers } = deps;

  let running = false;
  let stopped = false;
  let timer: TimerHandle | null = null;
  let timerAt = Infinity;
  let lastEnd = -Infinity;
  let confirmRequested = false;
  let current: AbortController | null = null;
  let cycle: Promise<void> | null = null;
  // The probe's own promise while it has not settled, even after we gave up waiting on it.
  let unsettled: Promise<void> | null = null;

  function schedule(delay: number): void {
    if (timer !== null) timers.clearTimeout(timer);
    timerAt = now() + delay;
    timer = timers.setTimeout(() => {
      timer = null;
      timerAt = Infinity;
      cycle = runCycle();
    }, delay);
  }

  async function runCycle(): Promise<void> {
    running = true;
    const result = await check();
    running = false;
    if (stopped) return;
    lastEnd = now();
    const quick = onResult(result) || confirmRequested;
    confirmRequested = false;
    if (quick) schedule(confirmInterval);
    else schedule(Math.max(0, result.startedAt + interval + random() * jitter - lastEnd));
  }

  async function check(): Promise<CheckResult> {
    const startedAt = now();
    const fail = (error: unknown, timedOut: boolean): CheckResult => ({ ok: false, error, timedOut, startedAt, durationMs: now() - startedAt });
    if (unsettled !== null) {
      return fail(new SwitchyardError('SWY_HEALTH_STILL_RUNNING', `the previous check of "${probe.name}" has not returned`, { probe: probe.name }), false);
    }
    const controller = new AbortController();
    current = controller;
    const timeoutError = new SwitchyardError('SWY_HEALTH_TIMEOUT', `no result within ${timeout}ms`, { probe: probe.name, timeoutMs: timeout });
    const timeoutTimer = timers.setTimeout(() => controller.abort(timeoutError), timeout);
    const aborted = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    let checking: Promise<void>;
    try {
      checking = Promise.resolve(probe.check(controller.signal));
    } catch (err) {
      checking = Promise.reject(err);
    }
    const settled = checking.then(() => undefined, () => undefined);
    unsettled = settled;
    void settled.then(() => {
      if (unsettled === settled) unsettled = null;
    });
    try {
      await Promise.race([checking, aborted]);
      return { ok: true, error: null, timedOut: false, startedAt, durationMs: now() - startedAt };
    } catch (err) {
      return fail(err, controller.signal.reason === timeoutError);
    } finally {
      timers.clearTimeout(timeoutTimer);
      current = null;
      aborted.catch(() => undefined);
    }
  }

  return {
    start() {
      if (stopped || running || timer !== null) return;
      schedule(random() * jitter);
    },
    confirmSoon() {
      if (stopped) return;
      if (running) {
        confirmRequested = true;
        return;
      }
      if (timer === null) return;
      const at = Math.max(now(), lastEnd + confirmInterval);
      if (at < timerAt) schedule(at - now());
    },
    async stop() {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      current?.abort(new SwitchyardError('SWY_HEALTH_STOPPED', 'the health monitor is stopping', { probe: probe.name }));
      await cycle;
    },
  };
}
