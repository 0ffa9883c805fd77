// npm run bench:proxy — switchyard's proxy side by side with HAProxy and nginx, each configured
// as the same active/backup proxy in front of the same origin, each pinned to CPU 0 with taskset;
// wrk and the origins share CPU 1. Then the failover run: a steady stream of GETs while the
// active origin is killed, against each proxy.
// The near anchor, node-proxy (bench/proxy/node-proxy.ts: node:http + one undici Pool, nothing
// else), runs in the same rounds, interleaved with switchyard and the peers.
// Knobs: DURATION (s, 10), CONNECTIONS (64), WARMUP (s, 3), ROUNDS (3), PEERS ("haproxy,nginx"),
// FAILOVER_SECONDS (10), FAILOVER_CONCURRENCY (8), DETECT_MS (500: time before switchyard's
// routing moves, standing in for probe detection), FAILOVER_PEERS (1: also run it on the peers),
// W2 (1: also switchyard-w2, proxy.workers: 2 pinned to both CPUs, sharing CPU 1 with wrk, and its
// anchor node-proxy-w2, node-proxy in two worker threads with reusePort listeners, pinned the same; 0: not),
// FAILOVER (1: run the failover part; 0: skip it), DELAY_MS (0: closed loop, every connection sends
// its next request as soon as the answer is in; N: each connection waits N ms after every answer, an
// open-ish loop at about CONNECTIONS × 1000 / N requests/s, so that the cores are not saturated and
// the CPU time per request of one and two workers can be compared without the load generator
// fighting the second worker for its core), MEMORY_LIMIT (the Node proxies' memory cgroup, default
// deploy/kubernetes/deployment.yaml's limit, 0: none; bench/support/memory-limit.ts).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, SERVE_ENV, SERVE_NODE_FLAGS } from '../../test/support/switchyard-process.ts';
import { freePort } from '../../test/support/ports.ts';
import { createCleanup, waitForChild, type Child } from '../support/processes.ts';
import { createMemoryLimit } from '../support/memory-limit.ts';
import { markdownTable } from '../support/table.ts';
import { commandOutput, requireTools } from '../support/tools.ts';
import { cpuSeconds, rssKiB, sampleUsage } from '../dns/usage.ts';
import { haproxy, nginxOrigin, nginxProxy, type Addr } from './configs.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const IN_WORKERS = join(HERE, '../support/in-workers.ts');
const NODE_PROXIES: ReadonlySet<string> = new Set(['switchyard', 'switchyard-w2', 'node-proxy', 'node-proxy-w2']);
// The compile cache `switchyard serve` uses (bin/switchyard.js): the Node processes measured here
// load stripped sources from it instead of loading the TypeScript stripper (about 16 MiB).
const NODE_COMPILE_CACHE = join(tmpdir(), 'node-compile-cache');

const num = (name: string, def: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};
const DURATION = num('DURATION', 10);
const CONNECTIONS = num('CONNECTIONS', 64);
const WARMUP = num('WARMUP', 3);
const ROUNDS = num('ROUNDS', 3);
const FAILOVER_SECONDS = num('FAILOVER_SECONDS', 10);
const FAILOVER_CONCURRENCY = num('FAILOVER_CONCURRENCY', 8);
const DETECT_MS = num('DETECT_MS', 500);
const PEERS = (process.env.PEERS ?? 'haproxy,nginx').split(',').map((s) => s.trim()).filter(Boolean);
const FAILOVER_PEERS = process.env.FAILOVER_PEERS !== '0';
const W2 = process.env.W2 !== '0';
const FAILOVER = process.env.FAILOVER !== '0';
const DELAY_MS = process.env.DELAY_MS === undefined || process.env.DELAY_MS === '' || process.env.DELAY_MS === '0' ? 0 : num('DELAY_MS', 0);
const PROXY_CPU = '0';
const LOAD_CPU = cpus().length > 1 ? '1' : '0';

requireTools('bench:proxy', [
  { name: 'wrk', pkg: 'wrk' },
  { name: 'haproxy', pkg: 'haproxy' },
  { name: 'nginx', pkg: 'nginx' },
  { name: 'taskset', pkg: 'util-linux' },
], 1);
for (const p of PEERS) if (p !== 'haproxy' && p !== 'nginx') throw new Error(`unknown peer ${p}: PEERS takes haproxy and/or nginx`);

const cleanup = createCleanup();
cleanup.onExit('bench:proxy');
const dir = cleanup.tempDir('switchyard-bench-proxy-');
const memoryLimit = createMemoryLimit('switchyard-bench-proxy');
// wrk's delay() hook: milliseconds a connection waits after each answer before its next request.
const DELAY_SCRIPT = join(dir, 'delay.lua');
if (DELAY_MS > 0) writeFileSync(DELAY_SCRIPT, `function delay()\n  return ${DELAY_MS}\nend\n`);

const connects = (a: Addr) => new Promise<boolean>((res) => {
  const s = connect(a.port, a.host);
  s.once('connect', () => { s.destroy(); res(true); });
  s.once('error', () => res(false));
});

const waitListening = (a: Addr, p: Child) => waitForChild(p, `a listener on ${a.host}:${a.port}`, () => connects(a), 10_000);

function startNginx(name: string, cpu: string, conf: string): Child {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const file = join(d, 'nginx.conf');
  writeFileSync(file, conf);
  return cleanup.spawn(name, 'nginx', ['-p', d, '-c', file, '-e', join(d, 'error.log')], { cpu });
}

const originPortP = freePort('127.0.0.2');
const east: Addr = { host: '127.0.0.2', port: await originPortP };
const west: Addr = { host: '127.0.0.3', port: east.port };

async function startOrigin(name: 'east' | 'west'): Promise<Child> {
  const a = name === 'east' ? east : west;
  // One process (master_process off): SIGKILL takes the whole origin down, like a crashed node.
  const p = startNginx(`origin-${name}`, LOAD_CPU, nginxOrigin(join(dir, `origin-${name}`), a, name).replace('daemon off;', 'daemon off;\nmaster_process off;'));
  await waitListening(a, p);
  return p;
}

interface WrkResult { rps: number; p99ms: number; p50ms: number; requests: number; errors: number; non2xx: number }

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

async function wrk(url: string, seconds: number): Promise<WrkResult> {
  const script = DELAY_MS > 0 ? ['-s', DELAY_SCRIPT] : [];
  const p = cleanup.spawn('wrk', 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...script, '-H', 'Host: app.example.com', url], { cpu: LOAD_CPU });
  const r = await p.exited;
  const out = p.output();
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}):\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99ms = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p50ms = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps) || !Number.isFinite(p99ms)) throw new Error(`cannot parse wrk output:\n${out}`);
  return { rps, p99ms, p50ms, requests, errors, non2xx };
}

type ProxyName = 'switchyard' | 'switchyard-w2' | 'node-proxy' | 'node-proxy-w2' | 'haproxy' | 'nginx';

async function startProxy(name: ProxyName, listen: Addr): Promise<Child> {
  let p: Child;
  if (name === 'switchyard' || name === 'switchyard-w2') {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    const sy = cleanup.spawn(name, ...memoryLimit.wrap(NODE, [...SERVE_NODE_FLAGS, join(HERE, 'switchyard-proxy.ts')]), {
      cpu: name === 'switchyard' ? PROXY_CPU : `${PROXY_CPU},${LOAD_CPU}`,
      stdin: true,
      env: {
        ...process.env, ...SERVE_ENV, NODE_COMPILE_CACHE, PROXY_HOST: listen.host, PROXY_PORT: String(listen.port), LOG_LEVEL: 'warn', PROXY_WORKERS: name === 'switchyard' ? '1' : '2',
        EAST_URL: `http://${east.host}:${east.port}`, WEST_URL: `http://${west.host}:${west.port}`, STATE_FILE: join(d, 'state.json'),
      },
    });
    await waitForChild(sy, 'its "ready" line', () => sy.output().includes('ready '), 15_000);
    if (!memoryLimit.holds(sy.pid)) throw new Error(`${name} (pid ${sy.pid}) is not inside the memory limit's cgroup`);
    p = sy;
  } else if (name === 'node-proxy' || name === 'node-proxy-w2') {
    // serve's V8 flags and malloc settings too, so that both the CPU and the memory figures compare like with like.
    const w2 = name === 'node-proxy-w2';
    const program = join(HERE, 'node-proxy.ts');
    const np = cleanup.spawn(name, ...memoryLimit.wrap(NODE, [...SERVE_NODE_FLAGS, ...(w2 ? [IN_WORKERS, program] : [program])]), {
      cpu: w2 ? `${PROXY_CPU},${LOAD_CPU}` : PROXY_CPU,
      env: { ...process.env, ...SERVE_ENV, NODE_COMPILE_CACHE, PROXY_HOST: listen.host, PROXY_PORT: String(listen.port), UPSTREAM: `http://${east.host}:${east.port}`, ...(w2 ? { NP_WORKERS: '2' } : {}) },
    });
    // One "ready" line per listener: both workers listen before the round starts.
    await waitForChild(np, w2 ? 'both workers\' "ready" lines' : 'its "ready" line', () => np.output().split('ready ').length - 1 >= (w2 ? 2 : 1), 15_000);
    if (!memoryLimit.holds(np.pid)) throw new Error(`${name} (pid ${np.pid}) is not inside the memory limit's cgroup`);
    p = np;
  } else if (name === 'haproxy') {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, haproxy(listen, east, west));
    p = cleanup.spawn('haproxy', 'haproxy', ['-f', file, '-db'], { cpu: PROXY_CPU });
  } else {
    // One process (its worker is the master): the CPU and RSS sampled are the proxy's own.
    p = startNginx('nginx-proxy', PROXY_CPU, nginxProxy(join(dir, 'nginx-proxy'), listen, east, west).replace('daemon off;', 'daemon off;\nmaster_process off;'));
  }
  await waitListening(listen, p);
  return p;
}

interface FailoverResult { sent: number; failed: number; longestMs: number; longestGapMs: number; errors: Record<string, number>; byOrigin: Record<string, number> }

async function failoverRun(name: ProxyName, listen: Addr): Promise<FailoverResult> {
  const eastOrigin = await startOrigin('east');
  const proxy = await startProxy(name, listen);
  await wrk(`http://${listen.host}:${listen.port}/`, 1);
  const load = cleanup.spawn('failover-load', NODE, [join(HERE, 'failover-load.ts'), `http://${listen.host}:${listen.port}/`], {
    cpu: LOAD_CPU,
    env: { ...process.env, CONCURRENCY: String(FAILOVER_CONCURRENCY), DURATION_MS: String(FAILOVER_SECONDS * 1000) },
  });
  await new Promise((r) => setTimeout(r, (FAILOVER_SECONDS * 1000) / 3));
  eastOrigin.child.kill('SIGKILL');
  await eastOrigin.exited;
  if (name === 'switchyard') {
    await new Promise((r) => setTimeout(r, DETECT_MS));
    proxy.child.stdin!.write('active west\n');
  }
  const r = await load.exited;
  if (r.code !== 0) throw new Error(`failover load generator failed:\n${load.output()}`);
  await proxy.stop();
  return JSON.parse(load.output().trim().split('\n').pop()!) as FailoverResult;
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const version = (cmd: string, args: string[]) => commandOutput(cmd, args).split('\n')[0].replace(/ - https?:\/\/\S+/, '').trim();
  let memGiB = '?';
  try {
    memGiB = (Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024 / 1024).toFixed(0);
  } catch { /* not Linux */ }
  return `${cpus().length} × ${cpu}, ${memGiB} GiB, Linux ${release()}; Node ${process.version}; ${version('haproxy', ['-v'])}; ${version('nginx', ['-v'])}; ${version('wrk', ['-v'])}`;
}

const ports = { switchyard: await freePort('127.0.0.1'), 'switchyard-w2': await freePort('127.0.0.1'), 'node-proxy': await freePort('127.0.0.1'), 'node-proxy-w2': await freePort('127.0.0.1'), haproxy: await freePort('127.0.0.1'), nginx: await freePort('127.0.0.1') };
const addr = (n: ProxyName): Addr => ({ host: '127.0.0.1', port: ports[n] });

try {
  console.log(`machine: ${machine()}`);
  console.log(`the Node proxies (switchyard, switchyard-w2, node-proxy, node-proxy-w2) run ${memoryLimit.describe}`);
  console.log(`proxies on CPU ${PROXY_CPU}; wrk (1 thread, ${CONNECTIONS} connections, ${DURATION} s after ${WARMUP} s warm-up${DELAY_MS > 0 ? `, each connection waiting ${DELAY_MS} ms after every answer` : ''}) and the nginx origin on CPU ${LOAD_CPU}`);
  const eastOrigin = await startOrigin('east');
  const westOrigin = await startOrigin('west');

  const direct = await wrk(`http://${east.host}:${east.port}/`, DURATION);
  console.log(`origin direct (no proxy): ${direct.rps.toFixed(0)} req/s, p99 ${direct.p99ms.toFixed(2)} ms — the ceiling any proxy can show here`);

  interface Run extends WrkResult { idleRssKiB: number; peakRssKiB: number; cpuPerRequestUs: number; cpuShare: number }
  const rounds = new Map<ProxyName, Run[]>();
  const names = ['switchyard', 'node-proxy', ...(W2 ? ['switchyard-w2', 'node-proxy-w2'] : []), ...PEERS] as ProxyName[];
  // One unmeasured start of each Node proxy first: it fills Node's compile cache for this commit and
  // these flags, so that no measured round pays for the TypeScript stripper (about 20 MiB of RSS).
  for (const name of names.filter((n) => NODE_PROXIES.has(n))) await (await startProxy(name, addr(name))).stop();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of names) {
      const p = await startProxy(name, addr(name));
      const idleRssKiB = rssKiB(p.pid);
      await wrk(`http://127.0.0.1:${ports[name]}/`, WARMUP);
      const cpu0 = cpuSeconds(p.pid);
      const usage = sampleUsage(p.pid, PROXY_CPU, LOAD_CPU);
      const r = await wrk(`http://127.0.0.1:${ports[name]}/`, DURATION);
      const u = usage.stop();
      const cpu = cpuSeconds(p.pid) - cpu0;
      await p.stop();
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name} answered ${r.non2xx} non-2xx response(s) and had ${r.errors} socket error(s): not a valid measurement\n${p.output().slice(-2000)}`);
      const run: Run = { ...r, idleRssKiB, peakRssKiB: u.peakRssKiB, cpuPerRequestUs: (cpu / r.requests) * 1e6, cpuShare: u.cpuSeconds / u.wallSeconds };
      rounds.set(name, [...(rounds.get(name) ?? []), run]);
      console.log(`[${round}/${ROUNDS}] ${name.padEnd(13)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}  non-2xx ${r.non2xx}  CPU ${(run.cpuShare * 100).toFixed(0)} %, ${run.cpuPerRequestUs.toFixed(1)} µs/request  RSS idle ${(idleRssKiB / 1024).toFixed(1)} MiB, peak ${(u.peakRssKiB / 1024).toFixed(1)} MiB  ${(u.minorFaults / u.wallSeconds).toFixed(0)} page faults/s`);
    }
  }
  // Each proxy's best round (the one least disturbed by the rest of the machine).
  const results = new Map<ProxyName, Run>([...rounds].map(([n, rs]) => [n, rs.reduce((a, b) => (b.rps > a.rps ? b : a))]));
  console.log(`\nreq/s per round: ${[...rounds].map(([n, rs]) => `${n} ${rs.map((r) => r.rps.toFixed(0)).join(' / ')}`).join('; ')}`);
  const sy = results.get('switchyard')!;
  for (const peer of names.slice(1).filter((n) => n !== 'switchyard-w2' && n !== 'node-proxy-w2')) {
    const r = results.get(peer)!;
    console.log(`switchyard / ${peer}: ${(sy.rps / r.rps).toFixed(2)} × the requests/s, p99 ${(sy.p99ms / r.p99ms).toFixed(2)} × the latency, CPU per request ${(sy.cpuPerRequestUs / r.cpuPerRequestUs).toFixed(2)} ×`);
  }
  const anchor = results.get('node-proxy')!;
  // The verdict compares each one's best round: the machine's noise only ever takes throughput away,
  // so the best round is the nearest to the undisturbed figure. The rounds' own ratios (each pair of
  // runs seconds apart) show how far one disturbed round moves it.
  const paired = rounds.get('switchyard')!.map((r, i) => r.rps / rounds.get('node-proxy')![i].rps);
  console.log(`switchyard ÷ node-proxy req/s, round by round: ${paired.map((x) => x.toFixed(2)).join(' / ')}`);
  const anchorRatio = sy.rps / anchor.rps;
  console.log(`${anchorRatio >= 0.9 ? 'PASS' : 'FAIL'}: switchyard reaches ${anchorRatio.toFixed(2)} × node-proxy, the Node anchor, best round against best round (required ≥ 0.90)`);
  if (W2) {
    // Two workers against one, round by round (the same minute of the machine's noise): switchyard's
    // and Node's own. Where both grow alike, the growth is two event loops', not switchyard's workers'.
    const perRound = (two: ProxyName, one: ProxyName) => rounds.get(two)!.map((r, i) => r.cpuPerRequestUs / rounds.get(one)![i].cpuPerRequestUs);
    const syW = perRound('switchyard-w2', 'switchyard');
    const npW = perRound('node-proxy-w2', 'node-proxy');
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
    console.log(`CPU per request, two workers ÷ one, per round: switchyard ${fmt(syW)}; node-proxy ${fmt(npW)}; switchyard's ÷ node-proxy's ${fmt(syW.map((x, i) => x / npW[i]))}`);
  }
  const haproxyResult = results.get('haproxy');
  if (haproxyResult) {
    const ratio = sy.rps / haproxyResult.rps;
    const p99 = sy.p99ms / haproxyResult.p99ms;
    console.log(`goal vs HAProxy (≥ 0.50 × req/s, p99 ≤ 2 × HAProxy's): ${ratio >= 0.5 && p99 <= 2 ? 'met' : 'not met'} — ${ratio.toFixed(2)} × req/s, p99 ${p99.toFixed(2)} ×`);
  }

  await eastOrigin.stop();
  const failovers = new Map<ProxyName, FailoverResult>();
  if (FAILOVER) {
    console.log(`\nfailover run: ${FAILOVER_CONCURRENCY} concurrent GET streams for ${FAILOVER_SECONDS} s; east (the active origin) is SIGKILLed at ${(FAILOVER_SECONDS / 3).toFixed(1)} s; switchyard's routing moves to west ${DETECT_MS} ms later (peers rely on their own health checks and retries)`);
    for (const name of (FAILOVER_PEERS ? ['switchyard', ...PEERS] : ['switchyard']) as ProxyName[]) {
      const f = await failoverRun(name, addr(name));
      failovers.set(name, f);
      console.log(`${name.padEnd(13)} sent ${f.sent}  failed ${f.failed}  longest request ${f.longestMs.toFixed(1)} ms  longest gap ${f.longestGapMs.toFixed(1)} ms  served ${JSON.stringify(f.byOrigin)}${f.failed ? `  errors ${JSON.stringify(f.errors)}` : ''}`);
    }
  }
  await westOrigin.stop();

  console.log('\nmarkdown:\n');
  console.log(markdownTable(['proxy (1 core)', 'requests/s', 'p50', 'p99', 'CPU', 'CPU per request', 'RSS idle', 'RSS peak', 'switchyard ÷ it (req/s)'], [
    ...[...results].map(([name, r]) => [name, r.rps.toFixed(0), `${r.p50ms.toFixed(2)} ms`, `${r.p99ms.toFixed(2)} ms`, `${(r.cpuShare * 100).toFixed(0)} %`, `${r.cpuPerRequestUs.toFixed(1)} µs`,
      `${(r.idleRssKiB / 1024).toFixed(1)} MiB`, `${(r.peakRssKiB / 1024).toFixed(1)} MiB`, name === 'switchyard' ? '—' : (sy.rps / r.rps).toFixed(2)]),
    ['origin direct (no proxy)', direct.rps.toFixed(0), `${direct.p50ms.toFixed(2)} ms`, `${direct.p99ms.toFixed(2)} ms`, '', '', '', '', ''],
  ]));
  console.log('');
  console.log(markdownTable(['failover run', 'requests sent', 'failed', 'longest request', 'longest gap between completions'],
    [...failovers].map(([name, f]) => [name, String(f.sent), String(f.failed), `${f.longestMs.toFixed(1)} ms`, `${f.longestGapMs.toFixed(1)} ms`])));
  if ((failovers.get('switchyard')?.failed ?? 0) > 0) process.exitCode = 1;
} finally {
  await cleanup.run();
  memoryLimit.remove();
}
