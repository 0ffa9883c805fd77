// A real etcd cluster for tests: Debian's etcd-server (the `etcd` binary), one process per
// member, on loopback ports from freePort() (or on given addresses inside network namespaces),
// each with its own temporary data folder. Every wait is bounded and fails with the tail of the
// member's log; stop() kills every member and removes the folders, also after a failed start.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort } from './ports.ts';

export const ETCD_MISSING = "etcd not found: install Debian's etcd-server package (apt-get install etcd-server)";

export interface EtcdMemberSpec {
  /** Address the member listens on (default 127.0.0.1). */
  host?: string;
  /** Command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] to run the member inside a namespace. */
  wrap?: string[];
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  pid(): number | undefined;
  running(): boolean;
  /** SIGKILL (default) or SIGTERM, and wait for the exit. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts the member again on the same data folder and ports; waits until it is healthy. */
  start(): Promise<void>;
  logTail(): string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** Index of the member that is etcd's raft leader now (members reachable from the test process only). */
  leader(): Promise<number>;
  /** Waits until every running member reports healthy through /health. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  size?: number;
  /** PEM files: client URLs become https with this server certificate, and client certificates signed by `ca` are required. */
  tls?: { ca: string; cert: string; key: string; clientCert: string; clientKey: string };
  members?: EtcdMemberSpec[];
  /** Raft timing (ms); small values speed up leader changes in tests. */
  heartbeatInterval?: number;
  electionTimeout?: number;
}

export function etcdInstalled(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

const HEALTH_SCRIPT = `fetch(process.argv[1] + '/health', { signal: AbortSignal.timeout(1000) }).then((r) => r.json()).then((b) => process.exit(b.health === 'true' ? 0 : 1), () => process.exit(1))`;

/** /health of a member; through `wrap` (inside its network namespace) when the test process cannot reach it. */
async function healthy(url: string, wrap: string[] = [], tls?: EtcdClusterOptions['tls']): Promise<boolean> {
  if (tls) {
    const agent = new Agent({ connect: { ca: readFileSync(tls.ca, 'utf8'), cert: readFileSync(tls.clientCert, 'utf8'), key: readFileSync(tls.clientKey, 'utf8') } });
    try {
      const res = await request(`${url}/health`, { dispatcher: agent, signal: AbortSignal.timeout(1000) });
      const body = (await res.body.json()) as { health?: string };
      return res.statusCode === 200 && body.health === 'true';
    } catch {
      return false;
    } finally {
      await agent.close();
    }
  }
  if (wrap.length > 0) {
    return new Promise((res) => {
      execFile(wrap[0], [...wrap.slice(1), process.execPath, '-e', HEALTH_SCRIPT, url], { timeout: 5000 }, (err) => res(!err));
    });
  }
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.status === 200 && body.health === 'true';
  } catch {
    return false;
  }
}

/**
 * freePort() releases the port it found before etcd binds it, so another process can take it in
 * between ("bind: address already in use"; seen once in a full run). Such a start is retried on
 * fresh ports, at most three times in all; any other failure is the test's to see.
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdClusterOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function uniquePort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('freePort() kept returning ports already given to this etcd cluster');
}

async function startEtcdClusterOnce(options: EtcdClusterOptions): Promise<EtcdCluster> {
  if (!etcdInstalled()) throw new Error(ETCD_MISSING);
  const specs: EtcdMemberSpec[] = options.members ?? Array.from({ length: options.size ?? 3 }, () => ({}));
  const root = await mkdtemp(join(tmpdir(), 'swy-etcd-'));
  const token = `swy-${process.pid}-${Date.now()}`;
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<string, WriteStream>();
  const defs: { name: string; host: string; client: number; peer: number; wrap: string[] }[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < specs.length; i++) {
    const host = specs[i].host ?? '127.0.0.1';
    // Inside a namespace the loopback-free check does not apply; the ports only need to be unique here.
    // Unique across the whole cluster: freePort() may hand the same free port out twice.
    const client = await uniquePort(taken);
    const peer = await uniquePort(taken);
    defs.push({ name: `m${i + 1}`, host, client, peer, wrap: specs[i].wrap ?? [] });
  }
  const initialCluster = defs.map((d) => `${d.name}=http://${d.host}:${d.peer}`).join(',');

  const spawners: (() => void)[] = [];
  const wraps = new Map(defs.map((d) => [d.name, d.wrap]));
  const members: EtcdMember[] = defs.map((d) => {
    const dataDir = join(root, d.name);
    const logFile = join(root, `${d.name}.log`);
    const clientUrl = `${options.tls ? 'https' : 'http'}://${d.host}:${d.client}`;
    const peerUrl = `http://${d.host}:${d.peer}`;
    let started = false;
    const spawnMember = () => {
      const args = [
        '--name', d.name, '--data-dir', dataDir,
        '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster, '--initial-cluster-token', token,
        '--initial-cluster-state', started ? 'existing' : 'new',
        '--heartbeat-interval', String(options.heartbeatInterval ?? 100),
        '--election-timeout', String(options.electionTimeout ?? 1000),
        '--logger', 'zap', '--log-outputs', 'stderr',
        ...(options.tls ? ['--cert-file', options.tls.cert, '--key-file', options.tls.key, '--trusted-ca-file', options.tls.ca, '--client-cert-auth'] : []),
      ];
      const [cmd, ...pre] = d.wrap.length > 0 ? d.wrap : ['etcd'];
      const argv = d.wrap.length > 0 ? [...pre, 'etcd', ...args] : args;
      let log = logs.get(d.name);
      if (!log) { log = createWriteStream(logFile, { flags: 'a' }); logs.set(d.name, log); }
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      procs.set(d.name, child);
      started = true;
    };
    spawners.push(spawnMember);
    const member: EtcdMember = {
      name: d.name, clientUrl, peerUrl, dataDir, logFile,
      pid: () => procs.get(d.name)?.pid,
      running: () => { const c = procs.get(d.name); return c !== undefined && c.exitCode === null && c.signalCode === null; },
      async stop(signal = 'SIGKILL') {
        const c = procs.get(d.name);
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((res) => c.once('exit', () => res()));
        c.kill(signal);
        const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      },
      async start() {
        if (member.running()) return;
        spawnMember();
        const deadline = Date.now() + 30_000;
        while (!(await healthy(clientUrl, d.wrap, options.tls))) {
          if (!member.running()) throw new Error(`etcd ${d.name} exited on restart:\n${member.logTail()}`);
          if (Date.now() > deadline) throw new Error(`etcd ${d.name} not healthy 30 s after restart:\n${member.logTail()}`);
          await delay(100);
        }
      },
      logTail() {
        try { return readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(no log)'; }
      },
    };
    return member;
  });

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async leader() {
      for (const m of members.filter((x) => x.running())) {
        try {
          const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
          const s = (await res.json()) as { header?: { member_id?: string }; leader?: string };
          if (s.leader && s.leader === s.header?.member_id) return members.indexOf(m);
        } catch { /* ask the next member */ }
      }
      throw new Error('no etcd member says it is the leader');
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = members.filter((m) => m.running());
        const states = await Promise.all(running.map((m) => healthy(m.clientUrl, wraps.get(m.name), options.tls)));
        if (states.every(Boolean)) return;
        for (const m of members) {
          if (procs.has(m.name) && !m.running()) throw new Error(`etcd ${m.name} exited:\n${m.logTail()}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`etcd cluster not healthy after ${timeoutMs} ms:\n${members.map((m) => `--- ${m.name}\n${m.logTail()}`).join('\n')}`);
        }
        await delay(100);
      }
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop('SIGKILL')));
      for (const log of logs.values()) log.end();
      await rm(root, { recursive: true, force: true });
    },
  };

  try {
    // All members start together: none is healthy before a quorum has formed.
    for (const spawnMember of spawners) spawnMember();
    await cluster.waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
