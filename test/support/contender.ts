// Starts test/support/election-child.ts as a separate process and collects its JSON events, so
// election tests can kill -9, SIGSTOP and SIGCONT a contender. stopAll() kills what is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

const CHILD = fileURLToPath(new URL('./election-child.ts', import.meta.url));

export interface ContenderEvent { t: string; at: number; term?: number; name?: string; reason?: string; ok?: boolean; code?: string; generation?: number }

export interface Contender {
  name: string;
  proc: ChildProcess;
  events: ContenderEvent[];
  send(command: 'write' | 'reckless' | 'stop'): void;
  /** Waits for the first event after index `from` that matches. */
  next(match: (e: ContenderEvent) => boolean, timeoutMs?: number, from?: number): Promise<ContenderEvent>;
  leading(): boolean;
  signal(sig: NodeJS.Signals): void;
  exited(): Promise<void>;
}

export function createContenders() {
  const all: Contender[] = [];
  return {
    start(name: string, prefix: string, ttlSeconds: number, endpoints: string[], wrap: string[] = []): Contender {
      const argv = [process.execPath, CHILD, name, prefix, String(ttlSeconds), endpoints.join(',')];
      const [cmd, ...args] = wrap.length > 0 ? [...wrap, ...argv] : argv;
      const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      const events: ContenderEvent[] = [];
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        try { events.push({ ...(JSON.parse(line) as ContenderEvent), at: performance.now() }); } catch { /* not an event line */ }
      });
      const exit = new Promise<void>((res) => proc.once('exit', () => res()));
      const c: Contender = {
        name, proc, events,
        send(command) { proc.stdin!.write(`${command}\n`); },
        async next(match, timeoutMs = 20_000, from = 0) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const e = events.slice(from).find(match);
            if (e) return e;
            if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) while waiting; events: ${JSON.stringify(events)}`);
            if (Date.now() > deadline) throw new Error(`${name}: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events)}`);
            await delay(20);
          }
        },
        leading() {
          for (let i = events.length - 1; i >= 0; i--) {
            if (events[i].t === 'leading') return true;
            if (events[i].t === 'stopped' || events[i].t === 'leader') return false;
          }
          return false;
        },
        signal(sig) { if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig); },
        exited: () => exit,
      };
      all.push(c);
      return c;
    },
    async stopAll() {
      await Promise.all(all.map(async (c) => {
        c.signal('SIGCONT');
        c.signal('SIGKILL');
        await c.exited();
      }));
    },
  };
}
