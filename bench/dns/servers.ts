// The servers under test. Each writes its own configuration into a temp folder, serving the zone
// from zone.ts on 127.0.0.1:PORT, and is started pinned to one core.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, NODE, REPO, SERVE_ENV, SERVE_NODE_FLAGS } from '../../test/support/switchyard-process.ts';
import type { MemoryLimit } from '../support/memory-limit.ts';
import { freePort } from '../../test/support/ports.ts';
import type { HealthPair } from '../support/health-pair.ts';
import { waitForChild, type Child, type Cleanup } from '../support/processes.ts';
import { commandOutput, versionOf, type Tool } from '../support/tools.ts';
import { HOST, MBOX, NS, PRIMARY, SECONDARY, SOA_TIMERS, TTL, ZONE, zoneFile } from './zone.ts';

export const SERVER_NAMES = ['switchyard', 'node-dgram', 'switchyard-w2', 'node-dgram-w2', 'knot', 'gdnsd'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface StartContext {
  dir: string;              // an empty folder of this server's own
  port: number;             // UDP and TCP, 127.0.0.1
  cpu: string;              // taskset CPU list
  clientCpu: string;        // dnsperf's CPU: switchyard-w2 runs its second worker there, sharing it with dnsperf
  health: HealthPair;       // on PRIMARY and SECONDARY
  cleanup: Cleanup;
  profileDir: string | undefined;   // switchyard only: write a V8 CPU profile there
  memoryLimit: MemoryLimit; // the Node servers run inside it (bench/support/memory-limit.ts)
}

export interface ServerUnderTest {
  name: ServerName;
  /** Executables it needs, with the Debian package that brings each. */
  needs: Tool[];
  /** false: answers only the benchmark's query (the anchor), so the NS check is skipped. */
  answersZone: boolean;
  /** One line: what runs, which version, how it is set up. */
  describe(): string;
  start(ctx: StartContext): Promise<Child>;
}

const switchyardWith = (name: 'switchyard' | 'switchyard-w2', workers: number): ServerUnderTest => ({
  name,
  needs: [],
  answersZone: true,
  describe() {
    const rev = commandOutput('git', ['-C', REPO, 'describe', '--always', '--dirty']).trim();
    return workers === 1
      ? `switchyard ${rev} on Node ${process.version}: dns.rateLimit.responsesPerSecond 0 (rate limiting off), log level warn`
      : `switchyard-w2: the same with dns.workers ${workers}, pinned to both the server's and dnsperf's CPU (the load generator and the workers share the cores)`;
  },
  async start(ctx) {
    const adminPort = await freePort();
    const probe = (address: string) => `      - http: { url: "http://${address}:${ctx.health.port}${ctx.health.path}" }`;
    const config = [
      'zone:',
      `  name: ${ZONE}`,
      `  ttl: ${TTL}`,
      '  nameservers:',
      `    - { name: ${NS.name}, address: ${NS.address} }`,
      `  soa: { mbox: ${MBOX}, negativeTtl: ${SOA_TIMERS.negativeTtl}, refresh: ${SOA_TIMERS.refresh}, retry: ${SOA_TIMERS.retry}, expire: ${SOA_TIMERS.expire} }`,
      `hostnames: [${HOST}]`,
      'clusters:',
      '  - name: east',
      `    addresses: [${PRIMARY}]`,
      '    probes:',
      probe(PRIMARY),
      '  - name: west',
      `    addresses: [${SECONDARY}]`,
      '    probes:',
      probe(SECONDARY),
      'health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }',
      'failover: { automatic: true, steps: [switch-traffic] }',
      `dns: { listen: ["127.0.0.1:${ctx.port}"], rateLimit: { responsesPerSecond: 0 }, workers: ${workers} }`,
      `admin: { listen: "127.0.0.1:${adminPort}" }`,
      `state: { file: ${join(ctx.dir, 'state.json')} }`,
      'log: { level: warn }',
      '',
    ].join('\n');
    const file = join(ctx.dir, 'switchyard.yaml');
    writeFileSync(file, config);
    const nodeFlags = ctx.profileDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] : [];
    return ctx.cleanup.spawn(name, ...ctx.memoryLimit.wrap(NODE, [...SERVE_NODE_FLAGS, ...nodeFlags, BIN, 'serve', '--config', file]), { cpu: workers === 1 ? ctx.cpu : `${ctx.cpu},${ctx.clientCpu}`, cwd: ctx.dir, env: { ...process.env, ...SERVE_ENV } });
  },
});
const switchyard = switchyardWith('switchyard', 1);

const knot: ServerUnderTest = {
  name: 'knot',
  needs: [{ name: 'knotd', pkg: 'knot' }],
  answersZone: true,
  describe: () => `Knot DNS ${versionOf('knotd', ['-V'], /version (\S+)/)}: udp-workers 1, tcp-workers 1, background-workers 1, static A record`,
  async start(ctx) {
    mkdirSync(join(ctx.dir, 'run'));
    mkdirSync(join(ctx.dir, 'db'));
    writeFileSync(join(ctx.dir, `${ZONE}.zone`), zoneFile(`${TTL} A ${PRIMARY}`));
    const conf = [
      'server:',
      `    listen: 127.0.0.1@${ctx.port}`,
      `    rundir: "${join(ctx.dir, 'run')}"`,
      '    udp-workers: 1',
      '    tcp-workers: 1',
      '    background-workers: 1',
      'log:',
      '  - target: stderr',
      '    any: warning',
      'database:',
      `    storage: "${join(ctx.dir, 'db')}"`,
      'template:',
      '  - id: default',
      `    storage: "${ctx.dir}"`,
      '    zonefile-sync: -1',
      '    journal-content: none',
      'zone:',
      `  - domain: ${ZONE}`,
      `    file: ${ZONE}.zone`,
      '',
    ].join('\n');
    const file = join(ctx.dir, 'knot.conf');
    writeFileSync(file, conf);
    return ctx.cleanup.spawn('knot', 'knotd', ['-c', file], { cpu: ctx.cpu });
  },
};

const gdnsd: ServerUnderTest = {
  name: 'gdnsd',
  needs: [{ name: 'gdnsd', pkg: 'gdnsd' }],
  answersZone: true,
  describe: () => `gdnsd ${versionOf('gdnsd', ['-V'], /gdnsd version (\S+)/)}: udp_threads 1, tcp_threads 1, ${HOST} DYNA simplefo (${PRIMARY} / ${SECONDARY}, http_status monitor)`,
  async start(ctx) {
    mkdirSync(join(ctx.dir, 'zones'));
    // MAX/MIN = 30/30: a fixed TTL like switchyard's (gdnsd would otherwise shorten it near a possible state change).
    writeFileSync(join(ctx.dir, 'zones', ZONE), zoneFile(`${TTL}/${TTL} DYNA simplefo!app`));
    const conf = [
      'options => {',
      `  listen => [ 127.0.0.1:${ctx.port} ]`,
      '  udp_threads => 1',
      '  tcp_threads => 1',
      `  run_dir => ${join(ctx.dir, 'run')}`,
      `  state_dir => ${join(ctx.dir, 'state')}`,
      '}',
      'service_types => {',
      // interval 2 s is gdnsd's minimum; thresholds close to switchyard's rise 2 / fall 3.
      `  cluster_health => { plugin => http_status, port => ${ctx.health.port}, url_path => ${ctx.health.path}, ok_codes => [ 200 ], interval => 2, timeout => 1, up_thresh => 2, ok_thresh => 2, down_thresh => 3 }`,
      '}',
      'plugins => {',
      '  simplefo => {',
      `    app => { service_types => [ cluster_health ], primary => ${PRIMARY}, secondary => ${SECONDARY} }`,
      '  }',
      '}',
      '',
    ].join('\n');
    writeFileSync(join(ctx.dir, 'config'), conf);
    return ctx.cleanup.spawn('gdnsd', 'gdnsd', ['-c', ctx.dir, 'start'], { cpu: ctx.cpu });
  },
};

const nodeDgramWith = (name: 'node-dgram' | 'node-dgram-w2', workers: number): ServerUnderTest => ({
  name,
  needs: [],
  answersZone: false,
  describe: () => workers === 1
    ? `node-dgram on Node ${process.version}: the anchor, a bare dgram server answering every query with one prebuilt reply (bench/dns/node-dgram.ts), with serve's V8 flags (${SERVE_NODE_FLAGS.join(' ')}) and malloc settings`
    : `node-dgram-w2: switchyard-w2's anchor, node-dgram in ${workers} worker threads with reusePort sockets (bench/support/in-workers.ts), pinned like switchyard-w2`,
  async start(ctx) {
    // The compile cache serve uses (bin/switchyard.js), so its RSS is not the TypeScript stripper's,
    // and serve's own V8 flags, so that both the CPU and the memory figures compare like with like.
    const program = join(REPO, 'bench/dns/node-dgram.ts');
    const args = workers === 1 ? [program] : [join(REPO, 'bench/support/in-workers.ts'), program];
    const child = ctx.cleanup.spawn(name, ...ctx.memoryLimit.wrap(NODE, [...SERVE_NODE_FLAGS, ...args]), {
      cpu: workers === 1 ? ctx.cpu : `${ctx.cpu},${ctx.clientCpu}`,
      env: { ...process.env, ...SERVE_ENV, PORT: String(ctx.port), NP_WORKERS: String(workers), NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') },
    });
    // Every worker's socket is bound before the first query: one bound socket alone would take all of them.
    if (workers > 1) await waitForChild(child, `${workers} "answering on" lines`, () => child.output().split('answering on').length - 1 >= workers, 15_000);
    return child;
  },
});

export const SERVERS: Record<ServerName, ServerUnderTest> = { switchyard, 'node-dgram': nodeDgramWith('node-dgram', 1), 'switchyard-w2': switchyardWith('switchyard-w2', 2), 'node-dgram-w2': nodeDgramWith('node-dgram-w2', 2), knot, gdnsd };
