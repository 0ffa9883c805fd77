// Failover with three instances on etcd (issue #8), beside the one-instance figure:
//   - the active's health endpoint dies → every instance answers the passive (the slowest of
//     the three; DNS polled from inside each instance's site with c-ares, at most every POLL_MS);
//   - the leader is killed (SIGKILL) → another instance holds the leader key (read from etcd).
// Three sites in network namespaces (test/support/three-sites.ts: a real 3-member etcd, one
// member, one instance and one health endpoint per site), the same health settings as the
// one-instance run (bench/failover/switchyard.ts), one fresh deployment (key prefix, instances,
// health endpoints) per run. Needs root (namespaces), iproute2, iptables, etcd-server.
//
//   node bench/failover/three-instances.ts
//   RUNS=5          runs of each kind
//   POLL_MS=25      DNS poll period per instance
//   LEASE_TTL=10    state.etcd.leaseTtl (s); 10 is the default
//
// Exit status: 0 when every run completed; 1 otherwise; 2 for bad knobs.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { intKnob } from '../support/knobs.ts';
import { createCleanup } from '../support/processes.ts';
import { measureOnce } from './measure.ts';
import { median, ms } from './report.ts';
import { HEALTH, switchyard } from './switchyard.ts';
import { CLUSTER_ADDRESS, SITES, startThreeSites, until, type Deployment } from '../../test/support/three-sites.ts';

const now = () => performance.timeOrigin + performance.now();
const cleanup = createCleanup();
cleanup.onExit('bench:failover three instances');
const INTERVAL_MS = 1000;

/** Polls every instance until each answers `address` alone; the time each first did, from `start`. */
async function allAnswer(d: Deployment, address: string, pollMs: number, timeoutMs: number, start = performance.now()): Promise<number[]> {
  const seen = new Map<string, number>();
  while (seen.size < SITES.length) {
    if (performance.now() - start > timeoutMs) throw new Error(`not every instance answered ${address} within ${timeoutMs} ms (${[...seen.keys()].join(', ') || 'none'} did)`);
    await Promise.all(SITES.filter((n) => !seen.has(n)).map(async (n) => {
      const a = await d.dig(n).catch(() => null);
      if (a && a.addresses.length === 1 && a.addresses[0] === address) seen.set(n, performance.now() - start);
    }));
    await delay(pollMs);
  }
  return [...seen.values()];
}

async function main(): Promise<number> {
  let runs: number, pollMs: number, leaseTtl: number;
  try {
    runs = intKnob('RUNS', 5, 1, 50);
    pollMs = intKnob('POLL_MS', 25, 5, 1000);
    leaseTtl = intKnob('LEASE_TTL', 10, 2, 120);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const cpu = cpus();
  console.log('failover with one and with three instances');
  console.log(`${new Date().toISOString()}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  console.log(`${runs} runs each; health ${JSON.stringify(HEALTH)}; three instances: leaseTtl ${leaseTtl} s, quorum 2 of 3, DNS polled every ${pollMs} ms per instance\n`);
  let failed = 0;

  const one: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await measureOnce(switchyard, { cleanup, now, pollMs, random: Math.random }).catch((err: Error) => err);
    if (r instanceof Error) { failed++; console.log(`one instance run ${i + 1}: failed: ${r.message.split('\n')[0]}`); continue; }
    one.push(r.detectMs);
    console.log(`one instance run ${i + 1}/${runs}: health endpoint dies → answers the passive: ${ms(r.detectMs)}`);
  }

  const three = await startThreeSites();
  const every: number[] = [];
  const handover: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      let d: Deployment | undefined;
      try {
        d = await three.deploy({
          steps: '    - switch-traffic', leaseTtl,
          health: `{ interval: ${HEALTH.interval}, timeout: ${HEALTH.timeout}, fall: ${HEALTH.fall}, rise: ${HEALTH.rise} }`,
        });
        const dd = d;
        await until('every instance to see both clusters healthy', async () => {
          for (const n of SITES) {
            const s = await dd.status(n);
            if (!(s.clusters as Array<{ healthy: boolean | null }>).every((c) => c.healthy === true)) return false;
          }
          return true;
        }, 30_000, dd.logs);
        await allAnswer(dd, CLUSTER_ADDRESS.a, pollMs, 10_000);
        // The kill lands at a uniformly random point of one probe interval, as in the one-instance run.
        await delay(Math.random() * INTERVAL_MS);
        const killedAt = performance.now();
        await dd.healthKill('a');
        const times = await allAnswer(dd, CLUSTER_ADDRESS.b, pollMs, 30_000, killedAt);
        const slowest = Math.max(...times);
        every.push(slowest);

        const leader = await until('a leader', () => dd.leaderKey(), 20_000, dd.logs);
        const leaderKilledAt = performance.now();
        await dd.instances[leader.name as 'a' | 'b' | 'w']!.kill();
        const next = await until('a new leader', async () => { const l = await dd.leaderKey(); return l && l.name !== leader.name ? l : null; }, leaseTtl * 1000 * 3 + 10_000, dd.logs);
        const took = performance.now() - leaderKilledAt;
        handover.push(took);
        console.log(`three instances run ${i + 1}/${runs}: health endpoint dies → all three answer the passive: ${ms(slowest)} (each: ${times.map(ms).join(', ')}); leader ${leader.name} killed → ${next.name} leads: ${ms(took)}`);
      } catch (err) {
        failed++;
        console.log(`three instances run ${i + 1}: failed: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        await d?.stop();
      }
    }
  } finally {
    await three.close();
  }

  console.log('');
  console.log('| figure | one instance | three instances |');
  console.log('|---|---|---|');
  console.log(`| health endpoint dies → every instance answers the passive (median) | ${ms(median(one))} | ${ms(median(every))} |`);
  console.log(`| leader killed (SIGKILL) → another leads (median, leaseTtl ${leaseTtl} s) | — | ${ms(median(handover))} |`);
  const gap = median(every) - median(one);
  console.log(`\nthree instances − one instance: ${ms(gap)} (goal: within 1 s)`);
  return failed === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err);
} finally {
  await cleanup.run();
}
process.exitCode = code;
