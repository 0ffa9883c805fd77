// Polls a DNS server with dig (spawned for real, one at a time) and keeps every observation with
// the moments its dig was spawned and returned: the answer was given somewhere in between, so a
// change is seen at most one dig duration plus one poll gap after it happened.
import { digShort } from '../../test/support/dig.ts';

export interface Observation {
  startedAt: number;
  endedAt: number;
  /** Sorted A records; null when dig failed. */
  answers: string[] | null;
}

export interface DigPoller {
  observations: Observation[];
  /** The first observation (already made or to come) that satisfies `pred`, or null after `timeoutMs`. */
  waitFor(pred: (o: Observation) => boolean, timeoutMs: number): Promise<Observation | null>;
  stop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One dig, timed. */
export async function digOnce(port: number, name: string, now: () => number): Promise<Observation> {
  const startedAt = now();
  const answers = await digShort(port, name).catch((err: Error) => {
    if (/dig not found/.test(err.message)) throw err;
    return null;
  });
  return { startedAt, endedAt: now(), answers };
}

export function startDigPoller(opts: { port: number; name: string; periodMs: number; now: () => number }): DigPoller {
  const { port, name, periodMs, now } = opts;
  const observations: Observation[] = [];
  const waiters = new Set<{ pred: (o: Observation) => boolean; done: (o: Observation | null) => void }>();
  let stopped = false;
  let failure: Error | null = null;
  const loop = (async () => {
    while (!stopped) {
      let o: Observation;
      try {
        o = await digOnce(port, name, now);
      } catch (err) {
        failure = err as Error;
        for (const w of waiters) w.done(null);
        return;
      }
      observations.push(o);
      for (const w of waiters) if (w.pred(o)) w.done(o);
      const wait = periodMs - (o.endedAt - o.startedAt);
      if (wait > 0 && !stopped) await sleep(wait);
    }
  })();
  return {
    observations,
    waitFor(pred, timeoutMs) {
      if (failure) return Promise.reject(failure);
      const seen = observations.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          done: (o: Observation | null) => {
            clearTimeout(t);
            waiters.delete(w);
            if (failure) reject(failure);
            else resolve(o);
          },
        };
        const t = setTimeout(() => w.done(null), timeoutMs);
        waiters.add(w);
      });
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
