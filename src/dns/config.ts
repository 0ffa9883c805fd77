// The dns slice of the configuration: `zone` (the zone switchyard is authoritative for, its name
// servers, SOA and static records), `hostnames` (the names that follow the active cluster) and
// `dns` (listeners, rate limiting, TCP, worker threads). Declared once with src/config/schema.ts;
// src/config composes it.
import * as s from '../config/schema.ts';
import * as f from '../config/fields.ts';
import type { ListenAddress } from '../config/types.ts';
import { join, type Issues } from '../config/fields.ts';
import { readZoneRecords, zoneRecordsSchema, type StaticRecord } from './config-records.ts';

const HOUR = 3_600_000;
const MAX32 = 2 ** 31 - 1;

export interface NameserverConfig { name: string; address: string | undefined }
export interface ZoneConfig {
  name: string;
  ttl: number;
  nameservers: NameserverConfig[];
  soa: { mbox: string; negativeTtl: number; refresh: number; retry: number; expire: number };
  /** Static records (zone.records); always set by the validator, absent in hand-made test configs. */
  records?: StaticRecord[];
}

export const zoneSchema = s.object({
  name: s.dnsName({ description: 'the zone apex, e.g. `example.com`' }),
  ttl: s.integer(1, 60, { default: 30, description: 'TTL of the [hostnames](#hostnames)\' A/AAAA answers, the records that move on failover. Clients and resolvers may keep the old answer this long after a failover. While a change is near or under way (states suspect, precheck, failing-over, failing-back, held) answers carry a sixth of it, at least 1 s', doc: { type: 'integer (seconds)' } }),
  nameservers: s.list(s.object({
    name: s.dnsName({ description: 'the name server\'s name' }),
    address: s.optional(s.ipAddress({ description: 'glue A/AAAA for the name server. **Required** when the name is inside the zone (`ns1.example.com` for `example.com`), optional otherwise' })),
  }, { description: 'a name server of the zone' }), { min: 1, description: 'NS records at the apex (TTL 3600)' }),
  soa: s.object({
    mbox: s.optional(s.dnsName({ description: 'the responsible mailbox, `.` for `@`' }), { default: '`hostmaster.<zone.name>`' }),
    negativeTtl: s.optional(s.integer(0, 86400, { description: 'SOA MINIMUM: how long resolvers cache NXDOMAIN/NODATA. The SOA sent with a negative answer has TTL min(3600, `negativeTtl`)' }), { type: 'integer (seconds)', default: '`zone.ttl`' }),
    refresh: s.integer(1, MAX32, { default: 3600, description: 'SOA REFRESH (for secondaries; switchyard does not serve zone transfers)', doc: { type: 'integer (seconds)' } }),
    retry: s.integer(1, MAX32, { default: 600, description: 'SOA RETRY', doc: { type: 'integer (seconds)' } }),
    expire: s.integer(1, MAX32, { default: 604800, description: 'SOA EXPIRE', doc: { type: 'integer (seconds)' } }),
  }, { default: {}, description: 'the SOA record (TTL 3600; its serial is the routing generation, so it changes on every state change)', doc: { default: 'all defaults' } }),
  records: s.optional(zoneRecordsSchema),
}, { description: 'The DNS zone switchyard is authoritative for.' });

/** `paths` receives the key path of each static record returned, for checkZoneRecords. */
export function readZone(v: unknown, issues: Issues, paths: string[]): ZoneConfig | undefined {
  const r = s.readNode(zoneSchema, v, 'zone', issues);
  const name = r?.name ?? (v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string' ? f.dnsName((v as { name: string }).name, 'zone.name', []) : undefined);
  const records = readZoneRecords(r ? r.records : (v as { records?: unknown } | null)?.records, name, issues, paths);
  // Checked on what was written, so it shows beside the zone's other errors.
  const written = (v as { nameservers?: unknown } | null)?.nameservers;
  (Array.isArray(written) ? written : []).forEach((ns: unknown, i) => {
    const rec = ns !== null && typeof ns === 'object' ? ns as { name?: unknown; address?: unknown } : {};
    const nsName = typeof rec.name === 'string' ? f.dnsName(rec.name, '', []) : undefined;
    if (nsName && name && f.inZone(nsName, name) && rec.address === undefined) issues.push({ path: join(join('zone.nameservers', i), 'address'), message: `is required: ${nsName} is inside the zone and needs glue` });
  });
  if (!r) return undefined;
  // Returned with the records that read (their problems recorded), so checkZoneRecords can check
  // them against the hostnames and name servers and report that beside the rest.
  if (!records) return undefined;
  const soa = { mbox: r.soa.mbox ?? `hostmaster.${r.name}`, negativeTtl: r.soa.negativeTtl ?? r.ttl, refresh: r.soa.refresh, retry: r.soa.retry, expire: r.soa.expire };
  return { name: r.name, ttl: r.ttl, nameservers: r.nameservers, soa, records };
}

export const hostnamesSchema = s.list(s.dnsName({ description: 'a name answered with the active cluster\'s addresses' }), { min: 1, description: 'the names answered with the active cluster\'s addresses (A and AAAA), each inside `zone.name`' });

export function readHostnames(v: unknown, zone: string | undefined, issues: Issues): string[] | undefined {
  const items = f.list(v, 'hostnames', issues, 1);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const p = join('hostnames', i);
    const name = f.dnsName(item, p, issues);
    if (!name) return;
    if (zone && !f.inZone(name, zone)) issues.push({ path: p, message: `${name} is not inside zone ${zone}` });
    else if (out.includes(name)) issues.push({ path: p, message: `${name} is listed twice` });
    else out.push(name);
  });
  return out;
}

export interface DnsConfig {
  listen: ListenAddress[];
  maxUdpSize: number;
  rateLimit: { responsesPerSecond: number; slip: number; window: number; ipv4PrefixLength: number; ipv6PrefixLength: number };
  tcp: { idleTimeout: number; maxConnections: number; maxConnectionsPerSource: number; messageTimeout: number };
  /** 1: answered on the main thread; more: that many worker threads, each with its own reusePort sockets. */
  workers: number;
}

export const dnsSchema = s.object({
  listen: s.list(s.listen({ description: 'an address to answer on' }), { min: 1, default: ['127.0.0.1:5353'], description: 'where to answer; each address gets a UDP and a TCP socket, bound exclusively (another server on the same port fails the start). On a host with several addresses, list the specific ones rather than `0.0.0.0`/`[::]`: a wildcard UDP socket may reply from an address the resolver did not ask, and the reply is dropped (a pod with one address is fine). Port 53 needs root, `CAP_NET_BIND_SERVICE` or `net.ipv4.ip_unprivileged_port_start`', doc: { type: 'list of listen addresses, at least 1' } }),
  maxUdpSize: s.integer(512, 4096, { default: 1232, description: 'EDNS UDP payload size switchyard advertises, and the cap on the size the client advertises; larger answers are truncated (TC)', doc: { type: 'integer (bytes)' } }),
  rateLimit: s.object({
    responsesPerSecond: s.integer(0, 10_000_000, { default: 200, description: 'replies per second per source prefix; `0` turns rate limiting off' }),
    slip: s.integer(0, 10, { default: 2, description: 'every `slip`-th limited reply is sent truncated (TC=1) so a real client retries over TCP; the others are dropped. `0`: drop all; `1`: truncate all' }),
    window: s.duration(1000, HOUR, { default: '15s', description: 'how long a flood\'s debt is remembered: a source stays limited at most this long after it stops' }),
    ipv4PrefixLength: s.integer(8, 32, { default: 24, description: 'IPv4 sources are accounted per prefix of this length' }),
    ipv6PrefixLength: s.integer(16, 128, { default: 56, description: 'IPv6 sources are accounted per prefix of this length' }),
  }, { default: {}, description: 'response rate limiting of **UDP** replies per source prefix (BIND\'s RRL accounting); TCP is never limited', doc: { default: 'all defaults' } }),
  tcp: s.object({
    idleTimeout: s.duration(100, HOUR, { default: '10s', description: 'a TCP connection with no traffic in either direction for this long is closed' }),
    maxConnections: s.integer(1, 1_000_000, { default: 1000, description: 'connections open across all listeners. At the cap the oldest **idle** connection (no message half-received, no reply unsent) is closed to admit the new one (RFC 7766 §6.2.3, as Knot does: `switchyard_dns_tcp_evicted_total`); when none is idle the new one is closed at once (`switchyard_dns_tcp_rejected_total`). Lowered at start to fit the [file-descriptor budget](#limits)' }),
    maxConnectionsPerSource: s.optional(s.integer(1, 1_000_000, { description: 'connections from one source address; at the cap that source\'s oldest idle connection is closed first, as above' }), { default: '`32` (at most `maxConnections`)' }),
    messageTimeout: s.duration(10, 600_000, { default: '2s', description: 'a message must be complete this long after its first byte, or the connection is closed: a client trickling a byte every few seconds resets `idleTimeout` but cannot hold a slot with it' }),
  }, { default: {}, description: 'DNS over TCP', doc: { default: 'all defaults' } }),
  workers: s.integer(1, 64, { default: 1, description: '`1`: DNS is answered on the main thread. `N` ≥ 2: N worker threads, each with its own `SO_REUSEPORT` UDP and TCP socket on every listen address (the kernel spreads queries by source address and port); `switch-traffic` is journaled done only once every worker serves the new routing generation. The TCP caps are split: each worker holds `tcp.maxConnections / N` connections (rounded down) and `tcp.maxConnectionsPerSource / N` from one address (rounded up), so the process stays within the [file-descriptor budget](#limits); so `workers` must be at most `tcp.maxConnections`. Rate limiting accounts are per worker. Each worker costs about 15–20 MiB. See src/dns/README.md' }),
}, { default: {}, description: 'Where and how DNS is answered.' });

export function readDns(v: unknown, issues: Issues): DnsConfig | undefined {
  const r = s.readNode(dnsSchema, v, 'dns', issues);
  if (!r) return undefined;
  if (r.workers > r.tcp.maxConnections) {
    issues.push({ path: 'dns.workers', message: `must be at most dns.tcp.maxConnections (${r.tcp.maxConnections}): every worker thread gets a share of the TCP connections` });
    return undefined;
  }
  return { ...r, tcp: { ...r.tcp, maxConnectionsPerSource: r.tcp.maxConnectionsPerSource ?? Math.min(32, r.tcp.maxConnections) } };
}
