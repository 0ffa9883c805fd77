// `switchyard demo --instances 3`: a local 3-member etcd, the demo's two clusters (east on
// 127.0.0.2, west on 127.0.0.3) and three real `switchyard serve` processes on that etcd, each
// authoritative for app.example.com on its own DNS port. One leads; the others serve what it
// commits. It prints the leader and its term as the instances see them, and every change of the
// active cluster, so a newcomer can kill the leader (its pid is printed) and watch another take
// over, or fail east and watch one failover reach all three.
import { spawn, type ChildProcess } from 'node:child_process';
import { fs } from '../node-builtins.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describeError } from '../errors.ts';
import { startLocalEtcd } from './local-etcd.ts';
import { startCluster, type DemoCluster } from './demo.ts';

const { closeSync, openSync, writeFileSync } = fs;

type Out = { out: (line: string) => void; err: (line: string) => void };

export interface DemoInstancesOptions {
  instances: number;
  path: string | undefined;
  exitAfter: number | undefined;
  /** First DNS and admin ports; instance i uses port + i. */
  dnsPort: number;
  adminPort: number;
  appPort: number;
  healthPort: number;
}

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

interface Instance { name: string; dnsPort: number; admin: string; child: ChildProcess; log: string }
interface Seen { leader: { name: string; term: number } | null; active: string; state: string }

const configFor = (name: string, i: number, endpoints: string[], clusters: DemoCluster[], o: DemoInstancesOptions) => `
zone:
  name: example.com
  ttl: 5
  nameservers: [${Array.from({ length: o.instances }, (_, j) => `{ name: ns${j + 1}.example.com, address: 127.0.0.1 }`).join(', ')}]
hostnames: [app.example.com]
clusters:
${clusters.map((c) => `  - { name: ${c.name}, addresses: [${c.address}], probes: [{ http: { url: "http://${c.address}:${o.healthPort}/healthz" } }] }`).join('\n')}
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover: { automatic: true, cooldown: 5s, instances: ${o.instances}, steps: [switch-traffic] }
dns: { listen: ["127.0.0.1:${o.dnsPort + i}"] }
admin: { listen: "127.0.0.1:${o.adminPort + i}" }
state: { etcd: { endpoints: [${[...endpoints.slice(i), ...endpoints.slice(0, i)].map((e) => `"${e}"`).join(', ')}], prefix: /switchyard/demo, leaseTtl: 3s } }
instance: { name: ${name} }
log: { level: info }
`;

async function ready(p: Instance): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return false;
    const ok = await fetch(`${p.admin}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok) return true;
    await delay(100);
  }
  return false;
}

const seenBy = (p: Instance): Promise<Seen | null> => fetch(`${p.admin}/v1/status`, { signal: AbortSignal.timeout(1000) })
  .then((r) => r.json() as Promise<{ active: string; state: string; coordination: { leader: Seen['leader'] } | null }>)
  .then((s) => ({ leader: s.coordination?.leader ?? null, active: s.active, state: s.state }), () => null);

export async function demoInstances(options: DemoInstancesOptions, io: Out): Promise<number> {
  let etcd;
  try {
    etcd = await startLocalEtcd({ path: options.path });
  } catch (err) {
    io.err(`switchyard demo: ${describeError(err)}`);
    return 1;
  }
  const clusters: DemoCluster[] = [];
  const instances: Instance[] = [];
  const cleanup = async () => {
    await Promise.all(instances.map((p) => new Promise<void>((resolve) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) { resolve(); return; }
      p.child.once('exit', () => resolve());
      p.child.kill('SIGTERM');
      setTimeout(() => p.child.kill('SIGKILL'), 10_000).unref();
    })));
    for (const c of clusters) for (const s of c.servers) s.close();
    await etcd.stop();
  };
  try {
    clusters.push(await startCluster('east', '127.0.0.2', { app: options.appPort, health: options.healthPort }));
    clusters.push(await startCluster('west', '127.0.0.3', { app: options.appPort, health: options.healthPort }));
    for (let i = 0; i < options.instances; i++) {
      const name = `edge-${i + 1}`;
      const file = join(etcd.dir, `${name}.yaml`);
      writeFileSync(file, configFor(name, i, etcd.endpoints, clusters, options));
      const log = join(etcd.dir, `${name}.log`);
      const fd = openSync(log, 'a');
      const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { stdio: ['ignore', fd, fd], env: { PATH: options.path ?? '' } });
      closeSync(fd);
      instances.push({ name, dnsPort: options.dnsPort + i, admin: `http://127.0.0.1:${options.adminPort + i}`, child, log });
    }
    for (const p of instances) {
      if (!(await ready(p))) throw new Error(`${p.name} did not start (its log: ${p.log}; are ports ${p.dnsPort} and ${p.admin} free? --dns-port/--admin-port change them)`);
    }
  } catch (err) {
    io.err(`switchyard demo: ${describeError(err)}`);
    await cleanup();
    return 1;
  }

  io.out(`switchyard demo: a local ${etcd.endpoints.length}-member etcd (${etcd.endpoints.join(', ')}, data in ${etcd.dir})
  and ${instances.length} switchyard instances on it, all serving app.example.com from the state the leader commits;
  clusters east (127.0.0.2, preferred) and west (127.0.0.3), health on port ${options.healthPort}.
${instances.map((p) => `  ${p.name}: pid ${p.child.pid}, DNS 127.0.0.1:${p.dnsPort}, status page ${p.admin}/ (log ${p.log})`).join('\n')}

Try, in another terminal:
${instances.map((p) => `  dig @127.0.0.1 -p ${p.dnsPort} app.example.com +short`).join('\n')}
  npx switchyard status --admin ${instances[0].admin}         # instance, leader, term, every instance's observation
  kill -9 <the leader's pid>                                   # another instance leads within about 3 s, with a higher term
  curl -s -X POST http://127.0.0.2:${options.healthPort}/fail            # east fails: a quorum of instances sees it, one failover reaches all
  npx switchyard failback --admin <the leader's status page>   # a follower refuses and names the leader

Watching the leadership and the active cluster (Ctrl-C stops the demo):`);

  let last = '';
  const poll = setInterval(() => {
    void Promise.all(instances.map(async (p) => ({ p, seen: p.child.exitCode === null && p.child.signalCode === null ? await seenBy(p) : null }))).then((all) => {
      const live = all.filter((x) => x.seen !== null);
      const leader = live.map((x) => x.seen!.leader).find((l) => l !== null) ?? null;
      const view = live[0]?.seen;
      const down = all.filter((x) => x.seen === null).map((x) => x.p.name);
      const line = `${leader ? `${leader.name} leads (term ${leader.term})` : 'no leader'}; ${view ? `${view.active} active, ${view.state}` : 'no instance answers'}${down.length ? `; not answering: ${down.join(', ')}` : ''}`;
      if (line !== last) {
        last = line;
        io.out(`  [${new Date().toISOString().slice(11, 23)}] ${line}`);
      }
    });
  }, 300);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      clearInterval(poll);
      io.out('switchyard demo: stopping');
      void cleanup().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.exitAfter !== undefined) setTimeout(stop, options.exitAfter).unref();
  });
}
