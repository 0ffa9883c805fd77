// One measured run: fresh health endpoints and a fresh server; once it answers the active and has
// checked both sides, the active's endpoint dies at a random point of one probe interval after a
// check, and dig polls until it answers the passive.
import { startHealthPair } from '../support/health-pair.ts';
import type { Cleanup } from '../support/processes.ts';
import { digOnce, sleep, startDigPoller, type Observation } from './dig-poller.ts';
import { ACTIVE, HOSTNAME, PASSIVE, type Breakdown, type ServerUnderTest } from './server.ts';

export interface RunResult {
  /** Kill → the first dig that answered the passive had returned (ms). */
  detectMs: number;
  /** How long after the active's last answered check the kill came (ms). */
  phaseMs: number;
  /** The spawn-to-exit time of each dig during the run (ms). */
  digMs: number[];
  /** Answers that were neither the active nor the passive alone (e.g. an empty answer). */
  odd: string[];
  breakdown: Breakdown | null;
}

const same = (answers: string[] | null, address: string) => answers !== null && answers.length === 1 && answers[0] === address;

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- server output (tail) ---\n${output()}`);
}

export async function measureOnce(sut: ServerUnderTest, deps: { cleanup: Cleanup; now: () => number; pollMs: number; random: () => number }): Promise<RunResult> {
  const { cleanup, now, pollMs, random } = deps;
  const health = await startHealthPair({ active: ACTIVE, passive: PASSIVE }, now);
  const dir = cleanup.tempDir('switchyard-bench-failover-');
  let server: Awaited<ReturnType<ServerUnderTest['start']>> | null = null;
  try {
    server = await sut.start({ dir, health, cleanup, now });
    const s = server;
    // Ready: the server-specific check, both sides checked at least twice, and three answers in a row for the active.
    let activeInARow = 0;
    await until(`${sut.name} to answer ${ACTIVE} with both sides checked`, async () => {
      if (!(await s.ready())) return false;
      const o = await digOnce(s.dnsPort, HOSTNAME, now);
      activeInARow = same(o.answers, ACTIVE) ? activeInARow + 1 : 0;
      return activeInARow >= 3 && health.active.hits >= 2 && health.passive.hits >= 2;
    }, 20_000, 100, s.output);

    // The phase: right after a check of the active, then a random part of one probe interval.
    const checks = health.active.hits;
    await until(`a check of ${ACTIVE}`, () => health.active.hits > checks, 2 * sut.probeIntervalMs + 2000, 5, s.output);
    await sleep(random() * sut.probeIntervalMs);
    const killAt = health.killActive();
    const phaseMs = killAt - health.active.lastHitAt!;

    const poller = startDigPoller({ port: s.dnsPort, name: HOSTNAME, periodMs: pollMs, now });
    let seen: Observation | null;
    try {
      seen = await poller.waitFor((o) => same(o.answers, PASSIVE), sut.timeoutMs);
    } finally {
      await poller.stop();
    }
    if (!seen) throw new Error(`${sut.name} still did not answer ${PASSIVE} ${sut.timeoutMs} ms after the kill\n--- server output (tail) ---\n${s.output()}`);
    if (!(await health.activeRefuses())) throw new Error(`the active's endpoint ${ACTIVE}:${health.port} still accepts connections after the kill`);
    const observed = poller.observations;
    const odd = observed.filter((o) => o.endedAt <= seen.endedAt && !same(o.answers, ACTIVE) && !same(o.answers, PASSIVE))
      .map((o) => (o.answers === null ? 'dig failed' : `[${o.answers.join(' ')}]`));
    return {
      detectMs: seen.endedAt - killAt,
      phaseMs,
      digMs: observed.map((o) => o.endedAt - o.startedAt),
      odd,
      breakdown: s.breakdown(killAt, seen.endedAt),
    };
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await health.close();
    cleanup.removeDir(dir);
  }
}
