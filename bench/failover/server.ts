// What the measurement needs from each DNS server under test (switchyard and its peers).
import type { HealthPair } from '../support/health-pair.ts';
import type { Child, Cleanup } from '../support/processes.ts';

/** The active and the passive cluster's address: the answers before and after the failover. */
export const ACTIVE = '127.0.0.2';
export const PASSIVE = '127.0.0.3';
export const HOSTNAME = 'app.example.com';
export const ZONE = 'example.com';
export const TTL = 30;

export interface StartContext {
  /** A fresh folder for this run (config, zone, state), removed after it. */
  dir: string;
  health: HealthPair;
  cleanup: Cleanup;
  now: () => number;
}

/** Where one run's time went, from the server's own log (ms, each phase after the previous one). */
export interface Breakdown {
  /** Kill → the first failed check of the active. */
  firstFailure: number;
  /** First failed check → the active declared down. */
  confirm: number;
  /** Declared down → DNS answers switched (policy, controller, journal, answer table swap). */
  switchover: number;
  /** DNS answers switched → the first dig that showed it. */
  observed: number;
}

export interface RunningServer {
  dnsPort: number;
  /** Server-specific readiness on top of the common one (dig answers the active, both sides checked). */
  ready(): Promise<boolean>;
  stop(): Promise<void>;
  /** The tail of the server's output, for error messages. */
  output(): string;
  breakdown(killAt: number, seenAt: number): Breakdown | null;
}

export interface ServerUnderTest {
  /** Row label. */
  name: string;
  /** The health-check settings and anything else that decides the result, one line. */
  settings: string;
  /** The prober's interval: the kill is placed at a random point of one interval after a check. */
  probeIntervalMs: number;
  /** How long to wait for the answer to change before calling the run failed. */
  timeoutMs: number;
  start(ctx: StartContext): Promise<RunningServer>;
}

/** A peer server that is one child process, with nothing to check but that it is running. */
export function childServer(p: Child, dnsPort: number): RunningServer {
  return {
    dnsPort,
    ready: async () => {
      if (!p.alive()) throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output()}`);
      return true;
    },
    stop: () => p.stop(),
    output: () => p.output().slice(-4000),
    breakdown: () => null,
  };
}
