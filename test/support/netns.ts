// Network namespaces for partition tests (root only; CI runs as root): a hub namespace holding
// a bridge, and one namespace per "site" joined to the hub by a veth pair. Addresses are from a
// private 10.x.y.0/24 chosen per run and exist only inside these namespaces; nothing is added to
// the host's own namespace, so no test traffic can leave the machine. Links are cut by taking
// the hub side of a site's veth down, or with iptables DROP/REJECT rules inside the site.
// Names carry the pid and a counter so parallel runs never collide; close() deletes everything
// (and an exit hook deletes what a crashed test left).
import { execFileSync } from 'node:child_process';

export interface Site {
  name: string;
  ns: string;
  /** The hub side of the site's veth pair (taken down to cut the link). */
  hubSide: string;
  address: string;
  /** Command prefix that runs a program inside the site's namespace. */
  wrap: string[];
  exec(cmd: string, args: string[]): string;
}

export type CutMode = 'link' | 'drop' | 'reject';

export interface NetworkLab {
  addSite(name: string): Site;
  /** Cuts the site off from every other site. */
  cut(site: Site, mode?: CutMode): void;
  heal(site: Site): void;
  close(): void;
}

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });

export const NETNS_NEEDS = 'network namespace tests need root and the ip and iptables commands (Debian packages iproute2 and iptables)';

export function netnsAvailable(): string | null {
  if (process.getuid?.() !== 0) return `${NETNS_NEEDS}: not running as root`;
  try { run('ip', ['-V']); } catch { return `${NETNS_NEEDS}: ip not found`; }
  try { run('iptables', ['--version']); } catch { return `${NETNS_NEEDS}: iptables not found`; }
  return null;
}

let labs = 0;
const live = new Set<NetworkLab>();
let hooked = false;

export function createNetworkLab(): NetworkLab {
  const problem = netnsAvailable();
  if (problem) throw new Error(problem);
  const id = `${process.pid % 100000}${++labs}`;
  const hub = `swyh${id}`;
  const namespaces: string[] = [];
  const subnet = `10.${200 + (process.pid % 50)}.${labs % 250}`;
  const sites: Site[] = [];
  const cuts = new Map<string, CutMode>();

  const nsDel = (ns: string) => { try { run('ip', ['netns', 'del', ns]); } catch { /* already gone */ } };
  run('ip', ['netns', 'add', hub]);
  namespaces.push(hub);
  const inHub = (...args: string[]) => run('ip', ['netns', 'exec', hub, ...args]);
  inHub('ip', 'link', 'set', 'lo', 'up');
  inHub('ip', 'link', 'add', 'br0', 'type', 'bridge');
  inHub('ip', 'link', 'set', 'br0', 'up');

  const lab: NetworkLab = {
    addSite(name) {
      const n = sites.length + 1;
      const ns = `swys${id}${n}`;
      const hubSide = `h${id}${n}`.slice(0, 15);
      const siteSide = `s${id}${n}`.slice(0, 15);
      run('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      // Create the pair inside the hub, then move one end into the site: the host namespace never holds it.
      inHub('ip', 'link', 'add', hubSide, 'type', 'veth', 'peer', 'name', siteSide);
      inHub('ip', 'link', 'set', siteSide, 'netns', ns);
      inHub('ip', 'link', 'set', hubSide, 'master', 'br0');
      inHub('ip', 'link', 'set', hubSide, 'up');
      const address = `${subnet}.${10 + n}`;
      const inSite = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
      inSite('ip', 'link', 'set', 'lo', 'up');
      inSite('ip', 'link', 'set', siteSide, 'name', 'eth0');
      inSite('ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      inSite('ip', 'link', 'set', 'eth0', 'up');
      const site: Site = {
        name, ns, hubSide, address,
        wrap: ['ip', 'netns', 'exec', ns],
        exec: (cmd, args) => inSite(cmd, ...args),
      };
      sites.push(site);
      return site;
    },
    cut(site, mode = 'link') {
      if (cuts.has(site.ns)) return;
      if (mode === 'link') inHub('ip', 'link', 'set', site.hubSide, 'down');
      else {
        // REJECT answers TCP with a reset (clients fail at once); DROP leaves them waiting for their timeouts.
        // The resets REJECT sends must themselves get out.
        if (mode === 'reject') site.exec('iptables', ['-A', 'OUTPUT', '-o', 'eth0', '-p', 'tcp', '--tcp-flags', 'RST', 'RST', '-j', 'ACCEPT']);
        for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
          if (mode === 'reject') site.exec('iptables', ['-A', chain, dir, 'eth0', '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
          site.exec('iptables', ['-A', chain, dir, 'eth0', '-j', 'DROP']);
        }
      }
      cuts.set(site.ns, mode);
    },
    heal(site) {
      const mode = cuts.get(site.ns);
      if (mode === undefined) return;
      if (mode === 'link') inHub('ip', 'link', 'set', site.hubSide, 'up');
      else {
        site.exec('iptables', ['-F', 'INPUT']);
        site.exec('iptables', ['-F', 'OUTPUT']);
      }
      cuts.delete(site.ns);
    },
    close() {
      for (const ns of namespaces.reverse()) nsDel(ns);
      namespaces.length = 0;
      live.delete(lab);
    },
  };
  live.add(lab);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => { for (const l of live) l.close(); });
  }
  return lab;
}
