// A fake clock and timers for driving schedulers in unit tests: time moves only in advance().
import type { Timers } from '../../src/health/scheduler.ts';

interface FakeTimer { at: number; seq: number; fn: () => void }

export interface FakeTime {
  now: () => number;
  timers: Timers;
  /** Moves time forward by ms, firing due timers in order and letting promises settle after each. */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks run without moving time. */
  settle(): Promise<void>;
  /** Timers scheduled and not yet fired or cleared. */
  pending(): number;
}

export function createFakeTime(start = 1_000_000): FakeTime {
  let current = start;
  let seq = 0;
  const queue: FakeTimer[] = [];
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => current,
    timers: {
      setTimeout(fn, ms) {
        const t: FakeTimer = { at: current + Math.max(0, ms), seq: seq++, fn };
        queue.push(t);
        return t;
      },
      clearTimeout(handle) {
        const i = queue.indexOf(handle as FakeTimer);
        if (i >= 0) queue.splice(i, 1);
      },
    },
    async advance(ms) {
      const end = current + ms;
      await settle();
      for (let fired = 0; fired < 100_000; fired++) {
        let next: FakeTimer | undefined;
        for (const t of queue) {
          if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
        }
        if (next === undefined) break;
        queue.splice(queue.indexOf(next), 1);
        current = next.at;
        next.fn();
        await settle();
      }
      current = end;
      await settle();
    },
    settle,
    pending: () => queue.length,
  };
}
