// DNS metrics on the Registry passed in. Label sets are bounded: query types outside a fixed
// list count as "other" ("none" when the question did not parse), rcodes are the six we send.
// Query counts are kept in a typed array on the hot path and added to the counter when scraped.
import { Counter, Gauge, type Registry } from 'prom-client';

const QTYPE_LABELS: ReadonlyArray<[number, string]> = [
  [1, 'A'], [2, 'NS'], [5, 'CNAME'], [6, 'SOA'], [12, 'PTR'], [15, 'MX'], [16, 'TXT'], [28, 'AAAA'], [33, 'SRV'],
  [35, 'NAPTR'], [43, 'DS'], [48, 'DNSKEY'], [64, 'SVCB'], [65, 'HTTPS'], [251, 'IXFR'], [252, 'AXFR'], [255, 'ANY'], [257, 'CAA'],
];
const QTYPE_SLOTS = QTYPE_LABELS.length + 2;   // plus other and none
const RCODE_LABELS: ReadonlyArray<[number, string]> = [[0, 'NOERROR'], [1, 'FORMERR'], [3, 'NXDOMAIN'], [4, 'NOTIMP'], [5, 'REFUSED'], [16, 'BADVERS']];

export const TRANSPORT = { UDP: 0, TCP: 1 } as const;
export type Transport = (typeof TRANSPORT)[keyof typeof TRANSPORT];
export type DropReason = 'short' | 'response' | 'ratelimited' | 'overload';

export interface DnsMetrics {
  /** One reply sent; `qtype` -1 when the question did not parse. */
  query(qtype: number, rcode: number, transport: Transport): void;
  dropped(reason: DropReason): void;
  slipped(): void;
  generation(value: number): void;
  tcpConnections(delta: number): void;
  tcpRejected(): void;
  tcpEvicted(): void;
}

export function createDnsMetrics(registry: Registry, gauges: { rateLimitEntries: () => number }): DnsMetrics {
  const qtypeIndex = new Uint8Array(65536);          // query type → index in qtypeNames (0: other)
  const qtypeNames = ['other', 'none'];
  for (const [code, label] of QTYPE_LABELS) { qtypeIndex[code] = qtypeNames.length; qtypeNames.push(label); }
  const rcodeIndex = new Uint8Array(17);
  for (const [i, [code]] of RCODE_LABELS.entries()) rcodeIndex[code] = i;
  // Per query only a typed-array slot is incremented; the counts reach prom-client at scrape time.
  const pending = new Float64Array(QTYPE_SLOTS * RCODE_LABELS.length * 2);
  const queries: Counter<'qtype' | 'rcode' | 'transport'> = new Counter({
    name: 'switchyard_dns_queries_total', help: 'DNS replies sent, by query type, rcode and transport',
    labelNames: ['qtype', 'rcode', 'transport'] as const, registers: [registry],
    collect() {
      for (let i = 0; i < pending.length; i++) {
        if (pending[i] === 0) continue;
        const slot = i >> 1;                               // i = slot * 2 + transport
        const r = slot % RCODE_LABELS.length;              // slot = qtype index * rcodes + rcode index
        const q = (slot - r) / RCODE_LABELS.length;
        queries.labels(qtypeNames[q], RCODE_LABELS[r][1], (i & 1) === TRANSPORT.UDP ? 'udp' : 'tcp').inc(pending[i]);
        pending[i] = 0;
      }
    },
  });
  const dropped = new Counter({
    name: 'switchyard_dns_dropped_total', help: 'DNS messages received and not answered: short (under 12 bytes), response (QR=1), ratelimited, overload (UDP send queue full)',
    labelNames: ['reason'] as const, registers: [registry],
  });
  const slipped = new Counter({ name: 'switchyard_dns_ratelimit_slipped_total', help: 'Rate-limited UDP replies sent truncated (TC=1) instead of dropped', registers: [registry] });
  const generation = new Gauge({ name: 'switchyard_dns_answer_table_generation', help: 'Routing generation the DNS answer table in use was built from', registers: [registry] });
  const connections = new Gauge({ name: 'switchyard_dns_tcp_connections', help: 'Open DNS TCP connections', registers: [registry] });
  const rejected = new Counter({ name: 'switchyard_dns_tcp_rejected_total', help: 'DNS TCP connections closed at once: dns.tcp.maxConnections (or maxConnectionsPerSource for the source) open and none of them idle', registers: [registry] });
  const evicted = new Counter({ name: 'switchyard_dns_tcp_evicted_total', help: 'Idle DNS TCP connections closed to make room for a new one at a connection cap', registers: [registry] });
  new Gauge({
    name: 'switchyard_dns_ratelimit_entries', help: 'Source prefixes tracked by response rate limiting', registers: [registry],
    collect() { this.set(gauges.rateLimitEntries()); },
  });

  const droppedChildren = { short: dropped.labels('short'), response: dropped.labels('response'), ratelimited: dropped.labels('ratelimited'), overload: dropped.labels('overload') };

  return {
    query(qtype, rcode, transport) {
      pending[((qtype < 0 ? 1 : qtypeIndex[qtype]) * RCODE_LABELS.length + rcodeIndex[rcode]) * 2 + transport]++;
    },
    dropped: (reason) => droppedChildren[reason].inc(),
    slipped: () => slipped.inc(),
    generation: (value) => generation.set(value),
    tcpConnections: (delta) => connections.inc(delta),
    tcpRejected: () => rejected.inc(),
    tcpEvicted: () => evicted.inc(),
  };
}
