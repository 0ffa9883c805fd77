// DNS benchmark: dnsperf against switchyard, Knot and gdnsd, one after another, each server
// pinned to one core and dnsperf to another, all serving the same zone (zone.ts).
//
//   npm run bench:dns
//
// Knobs (environment):
//   DURATION=10      seconds of measured load per server and round
//   ROUNDS=3         rounds (every server once per round); the table shows each server's best round
//   WARMUP=2         seconds of load before the measured run (discarded; lets V8 optimise)
//   CLIENTS=4        dnsperf -c (sockets)
//   OUTSTANDING=100  dnsperf -q (queries in flight at most: a closed loop)
//   QPS=0            dnsperf -Q (0: no limit)
//   EDNS=1           dnsperf -e (queries carry an OPT record, as real resolvers' do)
//   QUERIES=a        a: "app.example.com A" only (the headline); mix: adds AAAA (no data), SOA, NS, NXDOMAIN
//   SERVERS=switchyard,node-dgram,switchyard-w2,node-dgram-w2,knot,gdnsd   (node-dgram: the anchor,
//                    bench/dns/node-dgram.ts; switchyard-w2: dns.workers 2 on both CPUs, sharing dnsperf's;
//                    node-dgram-w2: its anchor, node-dgram in two worker threads, pinned the same)
//   SERVER_CPU=0 CLIENT_CPU=1
//   START_TIMEOUT=30 seconds a server has to start and give the expected answer
//   PROFILE=0        1: run switchyard under node --cpu-prof and print its hot spots
//   REQUIRE=0        1: exit 3 when switchyard misses the issue's requirement
//   MEMORY_LIMIT     the Node servers' memory cgroup (default: deploy/kubernetes/deployment.yaml's limit; 0: none);
//                    see bench/support/memory-limit.ts
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../test/support/switchyard-process.ts';
import { freePort } from '../../test/support/ports.ts';
import { startHealthPair, type HealthPair } from '../support/health-pair.ts';
import { KnobError, intKnob, namesKnob } from '../support/knobs.ts';
import { createMemoryLimit } from '../support/memory-limit.ts';
import { createCleanup, pinSelf } from '../support/processes.ts';
import { requireTools } from '../support/tools.ts';
import { runDnsperf, type DnsperfSettings } from './dnsperf.ts';
import { hotSpots } from './profile.ts';
import { bestRounds, ratios, requirement, roundsLine, table, type Measurement } from './report.ts';
import { waitForSaneAnswers } from './sanity.ts';
import { SERVER_NAMES, SERVERS } from './servers.ts';
import { rssKiB, sampleUsage } from './usage.ts';
import { HOST, PRIMARY, QUERY_SETS, SECONDARY, TTL } from './zone.ts';

/** The servers that are Node processes: they run inside the deployment's memory limit. */
const NODE_SERVERS: readonly string[] = ['switchyard', 'switchyard-w2', 'node-dgram', 'node-dgram-w2'];

function readKnobs() {
  const serverCpu = String(intKnob('SERVER_CPU', 0, 0, 4095));
  const clientCpu = String(intKnob('CLIENT_CPU', 1, 0, 4095));
  const cpus = availableParallelism();
  for (const [k, v] of [['SERVER_CPU', serverCpu], ['CLIENT_CPU', clientCpu]]) {
    if (Number(v) >= cpus) throw new KnobError(`${k}=${v}: this machine has ${cpus} CPU(s) available (0..${cpus - 1})`);
  }
  if (serverCpu === clientCpu) throw new KnobError(`SERVER_CPU and CLIENT_CPU are both ${serverCpu}: the server and dnsperf need a core each`);
  const queries = process.env.QUERIES ?? 'a';
  if (!QUERY_SETS[queries]) throw new KnobError(`QUERIES=${queries}: expected one of ${Object.keys(QUERY_SETS).join(', ')}`);
  const servers = namesKnob('SERVERS', SERVER_NAMES);
  const dnsperf: DnsperfSettings = {
    cpu: clientCpu,
    duration: intKnob('DURATION', 10, 1, 3600),
    clients: intKnob('CLIENTS', 4, 1, 256),
    outstanding: intKnob('OUTSTANDING', 100, 1, 65535),
    qps: intKnob('QPS', 0, 0, 10_000_000),
    edns: intKnob('EDNS', 1, 0, 1) === 1,
    timeout: 5,
  };
  return {
    cpus, serverCpu, clientCpu, queries, dnsperf, servers,
    warmup: intKnob('WARMUP', 2, 0, 600),
    rounds: intKnob('ROUNDS', 3, 1, 100),
    startTimeoutMs: intKnob('START_TIMEOUT', 30, 1, 600) * 1000,
    profile: intKnob('PROFILE', 0, 0, 1) === 1,
    require: intKnob('REQUIRE', 0, 0, 1) === 1,
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  let knobs: ReturnType<typeof readKnobs>;
  try {
    knobs = readKnobs();
  } catch (err) {
    if (err instanceof KnobError) { process.stderr.write(`bench:dns: ${err.message}\n`); return 2; }
    throw err;
  }
  requireTools('bench:dns', [
    { name: 'taskset', pkg: 'util-linux' },
    { name: 'dig', pkg: 'dnsutils' },
    { name: 'dnsperf', pkg: 'dnsperf' },
    ...knobs.servers.flatMap((s) => SERVERS[s].needs),
  ], 1);

  const cleanup = createCleanup();
  cleanup.onExit('bench:dns');
  const tmp = cleanup.tempDir('switchyard-bench-dns-');
  let health: HealthPair | undefined;
  const memoryLimit = createMemoryLimit('switchyard-bench-dns');
  try {
    pinSelf(knobs.clientCpu);
    const queryFile = join(tmp, 'queries.txt');
    writeFileSync(queryFile, `${QUERY_SETS[knobs.queries].join('\n')}\n`);
    health = await startHealthPair({ active: PRIMARY, passive: SECONDARY });
    const checks = (h: HealthPair) => h.active.hits + h.passive.hits;
    const d = knobs.dnsperf;

    log(`DNS benchmark: each server pinned to CPU ${knobs.serverCpu}, dnsperf (and this harness) on CPU ${knobs.clientCpu}, ${knobs.cpus} CPU(s) available`);
    log(`dnsperf -c ${d.clients} -q ${d.outstanding} -T 1 -l ${d.duration}${d.qps > 0 ? ` -Q ${d.qps}` : ''}${d.edns ? ' -e' : ''} over UDP on 127.0.0.1; warm-up ${knobs.warmup} s; queries (${knobs.queries}): ${QUERY_SETS[knobs.queries].join(', ')}`);
    for (const name of knobs.servers) log(`  ${SERVERS[name].describe()}`);
    log(`  the Node servers (${NODE_SERVERS.join(', ')}) run ${memoryLimit.describe}`);

    // One unmeasured start of each Node server first: it fills Node's compile cache for this commit
    // and these flags, so that no measured round pays for the TypeScript stripper (about 20 MiB of
    // RSS and a slower start) the way the first start after a code change does.
    for (const name of knobs.servers.filter((n) => NODE_SERVERS.includes(n))) {
      const dir = join(tmp, `${name}-cache-warm-up`);
      mkdirSync(dir);
      const port = await freePort();
      const server = await SERVERS[name].start({ dir, port, cpu: knobs.serverCpu, clientCpu: knobs.clientCpu, health, cleanup, profileDir: undefined, memoryLimit });
      await waitForSaneAnswers(server, port, knobs.startTimeoutMs, SERVERS[name].answersZone);
      await server.stop(15_000);
    }
    const measurements: Measurement[] = [];
    const profiles: string[] = [];
    for (let round = 1; round <= knobs.rounds; round++) {
      for (const name of knobs.servers) {
        const tag = `[${round}/${knobs.rounds}] ${name}`;
        const dir = join(tmp, `${name}-${round}`);
        mkdirSync(dir);
        const profileDir = name.startsWith('switchyard') && knobs.profile ? join(dir, 'profile') : undefined;
        const port = await freePort();
        const server = await SERVERS[name].start({ dir, port, cpu: knobs.serverCpu, clientCpu: knobs.clientCpu, health, cleanup, profileDir, memoryLimit });
        const { nsGlue } = await waitForSaneAnswers(server, port, knobs.startTimeoutMs, SERVERS[name].answersZone);
        if (NODE_SERVERS.includes(name) && !memoryLimit.holds(server.pid)) throw new Error(`${name} (pid ${server.pid}) is not inside the memory limit's cgroup`);
        log(`${tag}: answers ${HOST} A ${PRIMARY} TTL ${TTL} with AA${SERVERS[name].answersZone ? `; NS reply ${nsGlue ? 'with' : 'without'} glue` : ''}`);
        const idleRssKiB = rssKiB(server.pid);
        const hits0 = checks(health);
        if (knobs.warmup > 0) {
          const warm = await runDnsperf(port, queryFile, { ...d, duration: knobs.warmup }, cleanup);
          log(`${tag}: warm-up ${warm.qps.toFixed(0)} qps, ${warm.lost} lost`);
        }
        const usage = sampleUsage(server.pid, knobs.serverCpu, knobs.clientCpu);
        const result = await runDnsperf(port, queryFile, d, cleanup);
        const u = usage.stop();
        if (!server.alive()) throw new Error(`${name} exited during the run:\n${server.output()}`);
        const m: Measurement = {
          name, result, idleRssKiB, peakRssKiB: u.peakRssKiB, healthChecks: checks(health) - hits0,
          cpuShare: u.cpuSeconds / u.wallSeconds, serverCoreBusy: u.serverCoreBusy, clientCoreBusy: u.clientCoreBusy,
        };
        measurements.push(m);
        await server.stop(15_000);
        log(`${tag}: ${result.qps.toFixed(0)} qps, ${result.avgLatencyMs.toFixed(3)} ms average, ${result.lost} lost, server CPU ${(m.cpuShare * 100).toFixed(0)} %, ${result.qps > 0 ? ((m.cpuShare / result.qps) * 1e6).toFixed(2) : '-'} µs CPU per query, RSS idle ${(idleRssKiB / 1024).toFixed(1)} MiB, peak ${(u.peakRssKiB / 1024).toFixed(1)} MiB, ${(u.minorFaults / u.wallSeconds).toFixed(0)} page faults/s, ${m.healthChecks} health check(s) answered`);
        if (profileDir) {
          const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
          if (!file) throw new Error(`switchyard ran with --cpu-prof but wrote no profile in ${profileDir}:\n${server.output()}`);
          const kept = join(tmpdir(), `switchyard-dns-profile-${Date.now()}.cpuprofile`);
          copyFileSync(join(profileDir, file), kept);
          profiles.push(kept);
        }
      }
    }
    const rows = bestRounds(measurements);
    log('');
    log(table(rows));
    log('');
    log(roundsLine(rows));
    for (const line of ratios(rows)) log(line);
    const verdict = requirement(rows);
    log(verdict.text);
    log('server CPU: the server process\'s CPU time ÷ wall time. Well under 100 % with the dnsperf core near 100 %: dnsperf set the pace, not the server.');
    log('server core busy well above server CPU: other processes (or kernel work) took that core\'s time from the server. In both cases "qps per busy core" (qps ÷ server CPU) estimates what the server answers with a whole core.');
    for (const p of profiles) {
      const { busyMs, spots } = hotSpots(p, REPO);
      log('');
      log(`switchyard CPU profile (the profiler slows it down; figures above are from this profiled run): ${p}`);
      log(`busy ${busyMs.toFixed(0)} ms; top self time:`);
      for (const s of spots) log(`  ${(s.share * 100).toFixed(1).padStart(5)} %  ${s.selfMs.toFixed(0).padStart(6)} ms  ${s.name}  ${s.where}`);
    }
    return knobs.require && verdict.pass === false ? 3 : 0;
  } finally {
    await health?.close();
    await cleanup.run();
    memoryLimit.remove();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench:dns: FAILED: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
