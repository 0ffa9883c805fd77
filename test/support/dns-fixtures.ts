// Zone, clusters and hostnames shared by the DNS tests, and a fake RoutingSource to drive them.
import type { ClusterConfig, DnsConfig, ZoneConfig } from '../../src/config/types.ts';
import type { RoutingSnapshot, RoutingSource } from '../../src/routing/types.ts';

export const zone: ZoneConfig = {
  name: 'example.com', ttl: 30,
  nameservers: [{ name: 'ns1.example.com', address: '192.0.2.53' }, { name: 'ns2.example.com', address: '2001:db8::53' }, { name: 'ns.example.net', address: undefined }],
  soa: { mbox: 'hostmaster.example.com', negativeTtl: 45, refresh: 3600, retry: 600, expire: 604800 },
};

export const cluster = (name: string, addresses: string[]): ClusterConfig => ({
  name, addresses, upstream: undefined, hostHeader: undefined, probes: [], healthyWhen: { mode: 'all' }, kubernetes: undefined, database: undefined,
});

export const clusters = [cluster('east', ['192.0.2.1', '192.0.2.2', '2001:db8::1']), cluster('west', ['198.51.100.1'])];
export const hostnames = ['app.example.com', 'api.eu.example.com'];

export const TCP_DEFAULTS: DnsConfig['tcp'] = { idleTimeout: 10_000, maxConnections: 100, maxConnectionsPerSource: 100, messageTimeout: 2000 };

export const dnsConfig = (over: Partial<DnsConfig> = {}): DnsConfig => ({
  listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
  maxUdpSize: 1232,
  rateLimit: { responsesPerSecond: 0, slip: 2, window: 15_000, ipv4PrefixLength: 24, ipv6PrefixLength: 56 },
  tcp: TCP_DEFAULTS,
  workers: 1,
  ...over,
});

/** A RoutingSource whose active cluster the test sets; every set notifies like a commit. */
export function fakeRouting(active = 'east'): RoutingSource & { set(active: string): void; subscribers(): number } {
  let snapshot: RoutingSnapshot = Object.freeze({ generation: 1, epoch: 0, active, state: 'steady' as const, retryTo: null, stale: false });
  const subs = new Set<(s: RoutingSnapshot) => void>();
  return {
    current: () => snapshot,
    subscribe(fn) { subs.add(fn); return () => { subs.delete(fn); }; },
    set(next) {
      snapshot = Object.freeze({ ...snapshot, generation: snapshot.generation + 1, active: next });
      for (const fn of subs) fn(snapshot);
    },
    subscribers: () => subs.size,
  };
}
