// Three sites for the several-instances scenarios (issue #8), every part real:
//   A: the active cluster's health endpoint, an etcd member, switchyard instance `a`
//   B: the passive cluster's health endpoint, an etcd member, switchyard instance `b`
//   W: the witness: an etcd member, switchyard instance `w`
// Each site is its own network namespace (test/support/netns.ts) joined by a bridge, so a cut
// is a real partition of etcd's raft traffic, the instances' etcd clients and their probes.
// The test process stays in the host's namespace and acts from inside a site through that
// site's agent (test/support/site-agent.ts): DNS queries with c-ares, /v1/status, etcd reads.
// PostgreSQL (a primary and its streaming standby, test/support/postgres.ts) runs in the host's
// namespace and is reached by the instances through its Unix socket, which every namespace
// shares: the database is the one part a cut does not isolate (its fencing under a partition
// is tested in test/e2e/failover-postgres-safety.test.ts).
// One lab and one etcd cluster serve every scenario of a file; each deployment (three
// instances) gets its own key prefix, its own health endpoints and, when asked, its own
// PostgreSQL pair. close() removes everything, also after a failed start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { startEtcdCluster, type EtcdCluster } from './etcd.ts';
import { createNetworkLab, type CutMode, type NetworkLab, type Site } from './netns.ts';
import { startPostgresPair, type PgPair } from './postgres.ts';
import { freePort } from './ports.ts';
import { startSwitchyard, type SwitchyardProcess } from './switchyard-process.ts';
import type { RoutingState } from '../../src/routing/types.ts';

const AGENT = fileURLToPath(new URL('./site-agent.ts', import.meta.url));

export type SiteName = 'a' | 'b' | 'w';
export const SITES: SiteName[] = ['a', 'b', 'w'];
/** The DNS answers of each cluster: documentation addresses, never contacted. */
export const CLUSTER_ADDRESS: Record<'a' | 'b', string> = { a: '198.51.100.1', b: '198.51.100.2' };
export const HOSTNAME = 'app.example.com';
export const ZONE_TTL = 30;

export interface Agent {
  call<T = unknown>(req: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

async function startAgent(site: Site): Promise<Agent> {
  const [cmd, ...args] = [...site.wrap, process.execPath, AGENT];
  const child: ChildProcess = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  let next = 1;
  let ready: () => void;
  const readyP = new Promise<void>((r) => { ready = r; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: { id: number; ok: boolean; result?: unknown; error?: string };
    try { msg = JSON.parse(line); } catch { return; }
    if (msg.id === 0) { ready(); return; }
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.ok) w.res(msg.result); else w.rej(new Error(`site ${site.name}: ${msg.error}`));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => {
    for (const w of waiting.values()) w.rej(new Error(`site agent ${site.name} exited`));
    waiting.clear();
    r();
  }));
  const started = await Promise.race([readyP.then(() => true), exited.then(() => false), delay(15_000).then(() => false)]);
  if (!started) { child.kill('SIGKILL'); throw new Error(`site agent ${site.name} did not start`); }
  return {
    call<T>(req: Record<string, unknown>, timeoutMs = 10_000) {
      const id = next++;
      return new Promise<T>((res, rej) => {
        const t = setTimeout(() => { waiting.delete(id); rej(new Error(`site ${site.name}: ${String(req.op)} timed out`)); }, timeoutMs);
        waiting.set(id, { res: (v) => { clearTimeout(t); res(v as T); }, rej: (e) => { clearTimeout(t); rej(e); } });
        child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface SiteRuntime {
  name: SiteName;
  site: Site;
  agent: Agent;
  /** etcd's client URLs as this site's instance lists them: its own member first. */
  endpoints: string[];
}

export interface ThreeSites {
  lab: NetworkLab;
  etcd: EtcdCluster;
  sites: Record<SiteName, SiteRuntime>;
  /** Cuts the site off from both others (its etcd member, instance and health endpoint together). */
  cut(name: SiteName, mode?: CutMode): void;
  heal(name: SiteName): void;
  /** Drops TCP from site `from` to host:port only (e.g. one instance losing sight of a health endpoint). */
  block(from: SiteName, host: string, port: number): void;
  unblock(from: SiteName, host: string, port: number): void;
  /** Reads a key through the first site whose etcd member answers a linearizable read. */
  etcdRange(key: string, revision?: number): Promise<{ kv: EtcdKv | null; revision: number }>;
  deploy(options: DeployOptions): Promise<Deployment>;
  close(): Promise<void>;
}

export interface EtcdKv { key: string; value: string; createRevision: number; modRevision: number; version: number }

export interface DeployOptions {
  /** YAML lines of failover.steps (indented by 4); `${MARKS}` is replaced by the folder of the exec marks. */
  steps: string;
  /** A PostgreSQL pair: a's database is the primary, b's the standby. */
  postgres?: boolean;
  leaseTtl?: number;
  automatic?: boolean;
  quorum?: number;
  /** Which instances to start (default all three). */
  only?: SiteName[];
  /** The `health:` mapping (default: interval 500ms, timeout 400ms, fall 2, rise 1). */
  health?: string;
  /** log.level (default info). */
  logLevel?: string;
}

export interface DigAnswer { addresses: string[]; ttl: number | null; error?: string }

export interface StatusDoc {
  active: string;
  state: string;
  generation: number;
  epoch: number;
  holdCode?: string;
  lastTransition: null | { epoch: number; kind: string; outcome?: string; journal: Array<{ step: string; phase: string; attempt: number; term?: number }> };
  [key: string]: unknown;
}

export interface DnsSample { at: number; wall: number; instance: SiteName; addresses: string[]; ttl: number | null }

export interface Deployment {
  prefix: string;
  dir: string;
  pg: PgPair | null;
  instances: Partial<Record<SiteName, SwitchyardProcess>>;
  /** The health endpoint of cluster a (in site A) or b (in site B). */
  health: Record<'a' | 'b', { url: string; host: string; port: number }>;
  healthMode(cluster: 'a' | 'b', mode: 'ok' | 'fail'): Promise<void>;
  healthKill(cluster: 'a' | 'b'): Promise<void>;
  healthRevive(cluster: 'a' | 'b'): Promise<void>;
  status(name: SiteName): Promise<StatusDoc>;
  metrics(name: SiteName): Promise<string>;
  /** POST /v1/failover on that instance (a person's move). */
  failover(name: SiteName, body: Record<string, unknown>): Promise<{ status: number; text: string }>;
  dig(name: SiteName): Promise<DigAnswer>;
  /** Lines an exec step appended to ${MARKS}/<file>. */
  marks(file: string): string[];
  /** The leader key: instance name and term (its create revision), or null. */
  leaderKey(): Promise<{ name: string; term: number } | null>;
  /** Every committed routing state, oldest first, from etcd's history of `<prefix>/state`. */
  history(): Promise<Array<RoutingState & { modRevision: number }>>;
  /** Starts (again) an instance on the same folder and config. */
  start(name: SiteName): Promise<SwitchyardProcess>;
  /** Samples every running instance's DNS answer and status term until stop(). */
  sample(everyMs?: number): Sampler;
  logs(): string;
  stop(): Promise<void>;
}

export interface Sampler {
  dns: DnsSample[];
  terms: Array<{ at: number; instance: SiteName; term: number }>;
  stop(): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

export async function startThreeSites(): Promise<ThreeSites> {
  const lab = createNetworkLab();
  const agents: Agent[] = [];
  let etcd: EtcdCluster | undefined;
  const deployments = new Set<Deployment>();
  const blocks = new Set<string>();
  try {
    const raw = SITES.map((n) => lab.addSite(n));
    for (const s of raw) agents.push(await startAgent(s));
    etcd = await startEtcdCluster({ members: raw.map((s) => ({ host: s.address, wrap: s.wrap })), electionTimeout: 1000 });
    const cluster = etcd;
    const sites = Object.fromEntries(SITES.map((n, i) => [n, {
      name: n, site: raw[i], agent: agents[i],
      endpoints: [cluster.endpoints[i], ...cluster.endpoints.filter((_, j) => j !== i)],
    }])) as Record<SiteName, SiteRuntime>;

    const iptablesRule = (host: string, port: number) => ['OUTPUT', '-d', host, '-p', 'tcp', '--dport', String(port), '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    let deployments_n = 0;
    let preferred: SiteName = 'w';

    const three: ThreeSites = {
      lab, etcd: cluster, sites,
      cut: (n, mode) => lab.cut(sites[n].site, mode),
      heal: (n) => lab.heal(sites[n].site),
      block(from, host, port) {
        const k = `${from} ${host} ${port}`;
        if (blocks.has(k)) return;
        sites[from].site.exec('iptables', ['-I', ...iptablesRule(host, port)]);
        blocks.add(k);
      },
      unblock(from, host, port) {
        const k = `${from} ${host} ${port}`;
        if (!blocks.has(k)) return;
        sites[from].site.exec('iptables', ['-D', ...iptablesRule(host, port)]);
        blocks.delete(k);
      },
      async etcdRange(key, revision) {
        let last: unknown;
        // A read is linearizable, so it needs an etcd leader: right after a cut that took the
        // leader's site away, every member refuses or times out until the rest have elected one
        // (seen once in a full run). The round over the members is repeated for up to 12 s; any
        // answer is the test's to judge.
        const deadline = Date.now() + 12_000;
        for (let round = 0; round < 40 && (round === 0 || Date.now() < deadline); round++) {
          if (round > 0) await new Promise((r) => setTimeout(r, 250));
          // The member that answered last goes first: an isolated one costs a timeout per read.
          for (const n of [preferred, ...SITES.filter((x) => x !== preferred)]) {
            const s = sites[n];
            try {
              const r = await s.agent.call<{ status: number; text: string }>({
                op: 'http', method: 'POST', url: `${s.endpoints[0]}/v3/kv/range`, timeoutMs: 2000,
                body: JSON.stringify(revision ? { key: b64(key), revision: String(revision) } : { key: b64(key) }),
              }, 5000);
              if (r.status !== 200) { last = new Error(`${n}: etcd ${r.status} ${r.text}`); continue; }
              const body = JSON.parse(r.text) as { header: { revision: string }; kvs?: Array<Record<string, string>> };
              const kv = body.kvs?.[0];
              preferred = n;
              return {
                revision: Number(body.header.revision),
                kv: kv ? { key, value: unb64(kv.value), createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision), version: Number(kv.version) } : null,
              };
            } catch (err) { last = err; }
          }
        }
        throw new Error(`no etcd member answered a read of ${key} within 12 s: ${(last as Error)?.message}`);
      },
      async deploy(options) {
        const d = await deploy(three, options, ++deployments_n);
        deployments.add(d);
        const stop = d.stop;
        d.stop = async () => { deployments.delete(d); await stop(); };
        return d;
      },
      async close() {
        for (const d of [...deployments]) await d.stop().catch(() => undefined);
        for (const k of [...blocks]) {
          const [from, host, port] = k.split(' ');
          try { three.unblock(from as SiteName, host, Number(port)); } catch { /* the namespace goes anyway */ }
        }
        await cluster.stop();
        for (const a of agents) await a.close();
        lab.close();
      },
    };
    return three;
  } catch (err) {
    await etcd?.stop().catch(() => undefined);
    for (const a of agents) await a.close();
    lab.close();
    throw err;
  }
}

function instanceConfig(three: ThreeSites, name: SiteName, d: { prefix: string; health: Deployment['health']; pg: PgPair | null; steps: string; options: DeployOptions }): string {
  const { sites } = three;
  const ns = SITES.map((n) => `{ name: ns-${n}.example.com, address: ${sites[n].site.address} }`).join(', ');
  const db = (node: 'primary' | 'standby') => d.pg ? `\n    database: { url: "${d.pg[node].socketUrl}" }` : '';
  return `
zone: { name: example.com, ttl: ${ZONE_TTL}, nameservers: [${ns}] }
hostnames: [${HOSTNAME}]
clusters:
  - name: a
    addresses: [${CLUSTER_ADDRESS.a}]
    probes: [{ http: { url: "${d.health.a.url}" } }]${db('primary')}
  - name: b
    addresses: [${CLUSTER_ADDRESS.b}]
    probes: [{ http: { url: "${d.health.b.url}" } }]${db('standby')}
health: ${d.options.health ?? '{ interval: 500ms, timeout: 400ms, fall: 2, rise: 1 }'}
failover:
  automatic: ${d.options.automatic ?? true}
  cooldown: 0s
  instances: 3
  quorum: ${d.options.quorum ?? 2}
  steps:
${d.steps}
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state:
  etcd:
    endpoints: [${sites[name].endpoints.join(', ')}]
    prefix: ${d.prefix}
    leaseTtl: ${d.options.leaseTtl ?? 3}s
instance: { name: ${name} }
log: { level: ${d.options.logLevel ?? 'info'} }
`;
}

async function deploy(three: ThreeSites, options: DeployOptions, n: number): Promise<Deployment> {
  const { sites } = three;
  const prefix = `/swy-3s/${process.pid}/${n}`;
  const dir = mkdtempSync(join(tmpdir(), 'swy-3s-'));
  const marksDir = join(dir, 'marks');
  const steps = options.steps.replaceAll('${MARKS}', marksDir);
  const instances: Partial<Record<SiteName, SwitchyardProcess>> = {};
  const configs = new Map<SiteName, string>();
  const ports = new Map<SiteName, { dns: number; admin: number; proxy: number }>();
  let pg: PgPair | null = null;
  const healthKeys: Record<'a' | 'b', string> = { a: `a${n}`, b: `b${n}` };
  const started: Array<'a' | 'b'> = [];
  const stop = async () => {
    await Promise.all(Object.values(instances).map(async (p) => { p!.child.kill('SIGCONT'); await p!.kill(); }));
    // SWY_KEEP_LOGS=<folder>: each instance's whole log, for a person reading a failure.
    const keep = process.env.SWY_KEEP_LOGS;
    if (keep) {
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(keep, { recursive: true });
      for (const [name, p] of Object.entries(instances)) writeFileSync(join(keep, `${n}-${name}.log`), p!.logs());
    }
    for (const c of started) await sites[c].agent.call({ op: 'health.kill', key: healthKeys[c] }).catch(() => undefined);
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(marksDir);
    // A previous scenario may have cut, stopped or restarted members: start from a healthy cluster.
    await three.etcd.waitHealthy(30_000);
    const health = {} as Deployment['health'];
    for (const c of ['a', 'b'] as const) {
      const host = sites[c].site.address;
      const r = await sites[c].agent.call<{ url: string; port: number }>({ op: 'health.start', key: healthKeys[c], host, port: await freePort() });
      started.push(c);
      health[c] = { url: r.url, host, port: r.port };
    }
    if (options.postgres) pg = await startPostgresPair({ synchronous: true });

    const agentOf = (name: SiteName) => sites[name].agent;
    const http = async (name: SiteName, path: string, timeoutMs = 3000) => {
      const p = instances[name];
      if (!p) throw new Error(`instance ${name} is not running`);
      return agentOf(name).call<{ status: number; text: string }>({ op: 'http', url: `${p.adminUrl}${path}`, timeoutMs }, timeoutMs + 2000);
    };

    const start = async (name: SiteName) => {
      if (!configs.has(name)) configs.set(name, instanceConfig(three, name, { prefix, health, pg, steps, options }));
      if (!ports.has(name)) ports.set(name, { dns: await freePort(), admin: await freePort(), proxy: await freePort() });
      const instDir = join(dir, name);
      const { mkdirSync: mk } = await import('node:fs');
      mk(instDir, { recursive: true });
      const proc = await startSwitchyard({
        config: configs.get(name)!, dir: instDir, ports: ports.get(name), prefix: sites[name].site.wrap, readyTimeoutMs: 30_000,
        readyCheck: async (p) => (await agentOf(name).call<{ status: number }>({ op: 'http', url: `${p.adminUrl}/readyz`, timeoutMs: 1000 })).status === 200,
      });
      instances[name] = proc;
      return proc;
    };
    for (const name of options.only ?? SITES) await start(name);

    const deployment: Deployment = {
      prefix, dir, pg, instances, health,
      healthMode: async (c, mode) => { await sites[c].agent.call({ op: 'health.mode', key: healthKeys[c], mode }); },
      healthKill: async (c) => { await sites[c].agent.call({ op: 'health.kill', key: healthKeys[c] }); },
      healthRevive: async (c) => { await sites[c].agent.call({ op: 'health.revive', key: healthKeys[c] }); },
      async status(name) {
        const r = await http(name, '/v1/status');
        if (r.status !== 200) throw new Error(`${name} /v1/status: ${r.status} ${r.text}`);
        return JSON.parse(r.text) as StatusDoc;
      },
      async metrics(name) {
        const r = await http(name, '/metrics');
        if (r.status !== 200) throw new Error(`${name} /metrics: ${r.status}`);
        return r.text;
      },
      async failover(name, body) {
        const p = instances[name];
        if (!p) throw new Error(`instance ${name} is not running`);
        return agentOf(name).call<{ status: number; text: string }>({ op: 'http', method: 'POST', url: `${p.adminUrl}/v1/failover`, body: JSON.stringify(body), timeoutMs: 20_000 }, 25_000);
      },
      async dig(name) {
        const p = instances[name];
        if (!p) throw new Error(`instance ${name} is not running`);
        const r = await agentOf(name).call<Array<{ address: string; ttl: number }> | { error: string }>({ op: 'dig', port: p.dnsPort, name: HOSTNAME, timeoutMs: 1000 }, 5000);
        if (!Array.isArray(r)) return { addresses: [], ttl: null, error: r.error };
        return { addresses: r.map((x) => x.address).sort(), ttl: r.length > 0 ? Math.min(...r.map((x) => x.ttl)) : null };
      },
      marks(file) {
        const p = join(marksDir, file);
        return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0) : [];
      },
      async leaderKey() {
        const { kv } = await three.etcdRange(`${prefix}/leader`);
        return kv ? { name: kv.value, term: kv.createRevision } : null;
      },
      async history() {
        const out: Array<RoutingState & { modRevision: number }> = [];
        let { kv } = await three.etcdRange(`${prefix}/state`);
        for (let i = 0; kv && i < 500; i++) {
          out.unshift({ ...(JSON.parse(kv.value) as RoutingState), modRevision: kv.modRevision });
          if (kv.version <= 1) break;
          ({ kv } = await three.etcdRange(`${prefix}/state`, kv.modRevision - 1));
        }
        return out;
      },
      start,
      sample(everyMs = 200) {
        const sampler: Sampler = { dns: [], terms: [], stop: async () => { running = false; await loop; } };
        let running = true;
        const loop = (async () => {
          for (let i = 0; running && i < 100_000; i++) {
            await Promise.all(SITES.map(async (name) => {
              const p = instances[name];
              if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
              const at = performance.now();
              const a = await deployment.dig(name).catch(() => null);
              // The answer's time is when it arrived: the state it came from was committed before that.
              if (a && a.addresses.length > 0) sampler.dns.push({ at, wall: Date.now(), instance: name, addresses: a.addresses, ttl: a.ttl });
              const s = await deployment.status(name).catch(() => null);
              const term = s ? termOf(s) : null;
              if (term !== null) sampler.terms.push({ at, instance: name, term });
            }));
            await delay(everyMs);
          }
        })();
        return sampler;
      },
      logs: () => SITES.map((n) => instances[n] ? `--- instance ${n} ---\n${instances[n]!.logs().slice(-8000)}` : '').join('\n'),
      stop,
    };
    return deployment;
  } catch (err) {
    await stop();
    throw err;
  }
}

interface CoordinationDoc { leader: { name: string; term: number } | null; leading: boolean; term: number | null; storeReachable: boolean; answerTtl: number }

/** /v1/status `coordination` (state.etcd); throws when the instance does not report it. */
export function coordinationOf(s: StatusDoc): CoordinationDoc {
  const c = s.coordination as CoordinationDoc | null | undefined;
  if (!c) throw new Error('/v1/status has no coordination section');
  return c;
}

/** The leader's term as the instance last read it (null: no leader known). */
export function termOf(s: StatusDoc): number | null {
  return coordinationOf(s).leader?.term ?? null;
}

/** The leading instance's name as the instance last read it. */
export function leaderOf(s: StatusDoc): string | null {
  return coordinationOf(s).leader?.name ?? null;
}

/** Waits until fn returns a truthy value; bounded; the error carries `context()` (instance logs). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    await delay(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${context ? `\n${context()}` : ''}`);
}
